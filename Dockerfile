# Runnable image of the playground; mirrors `make run`.
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends ngspice && rm -rf /var/lib/apt/lists/*
COPY requirements.txt pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.txt
COPY kirchhoff_core ./kirchhoff_core
COPY app ./app
COPY assets ./assets
COPY .streamlit ./.streamlit
RUN pip install --no-cache-dir --no-deps -e .
EXPOSE 8501
CMD ["streamlit", "run", "app/streamlit_app.py", "--server.port", "8501", "--server.address", "0.0.0.0", \
     "--server.headless", "true", "--browser.gatherUsageStats", "false"]
