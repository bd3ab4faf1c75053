"""A class on one server: N browser sessions (Playwright + Debian chromium) train the moons preset on
the Train page at once; prints epochs/s per session (the least-squares slope of its epoch counter,
read every 2 s over the measured window) and in total, and the latency of the server's
health endpoint (/_stcore/health), polled every 0.25 s throughout. The pages open
``/train?solver=rk4&dt=0.1`` (``--query``): with a fixed-step solver every epoch costs the same, so
sessions at different epochs compare fairly (an adaptive solver's epoch costs follow the training).

The targets (issue 14): with 2 sessions each keeps >= 80 % of its solo speed; with 8, the total is
>= 80 % of two solo sessions; the health endpoint answers within 1 s throughout. The browser runs on
the same machine as the server, so on a small machine it takes part of the cores too; in a class the
students' browsers run on their own machines. ``--browser-nice 19`` starts chromium at the lowest CPU
priority, a closer stand-in for browsers elsewhere (they still share the cores when nothing else
wants them); a run without it puts server, workers and browsers on the same footing.
``classroom_pool.py`` measures the same classes' training without any browser.

    PYTHONPATH=$PWD python benchmarks/classroom.py --sessions 1 2 4 8 --measure 40
    PYTHONPATH=$PWD python benchmarks/classroom.py --sessions 1 2 4 8 --measure 40 --browser-nice 19
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-timer-throttling",
                 "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]
READ_EPOCH = """() => {
  const m = [...document.querySelectorAll("[data-testid='stMetric']")].find(e => e.innerText.startsWith("Epoch"));
  return m ? parseInt(m.querySelector("[data-testid='stMetricValue']").innerText) : null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Health(threading.Thread):
    """Polls the health endpoint; keeps every answer's latency (a failure counts as its timeout)."""

    def __init__(self, url: str, every_s: float = 0.25, timeout_s: float = 5.0):
        super().__init__(daemon=True)
        self.url, self.every_s, self.timeout_s = url + "/_stcore/health", every_s, timeout_s
        self.latencies: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(self.url, timeout=self.timeout_s).read()
            except OSError:
                self.failures += 1
            self.latencies.append(time.perf_counter() - t0)
            self.stop.wait(max(0.0, self.every_s - (time.perf_counter() - t0)))


def start_server(port: int, workers: str | None, log: Path, worker_nice: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if workers is not None:
        env["KIRCHHOFF_WORKERS"] = workers
    if worker_nice is not None:
        env["KIRCHHOFF_WORKER_NICE"] = worker_nice
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
                             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def _epoch(page, tries: int = 60) -> tuple[int, float]:
    """The page's epoch counter and when it was read. A page mid-redraw has no counter for a moment:
    read again (taking it as 0 once made a class of two look three times faster than solo)."""
    for _ in range(tries):
        try:
            value = page.evaluate(READ_EPOCH)
        except Exception:  # noqa: BLE001 - the page is redrawing; read again
            value = None
        if value is not None:
            return value, time.perf_counter()
        time.sleep(0.25)
    raise RuntimeError("a page showed no epoch counter for 15 s")


def _slope(readings: list[tuple[int, float]]) -> float:
    """Epochs/s from a page's (epoch, time) readings: the least-squares line through all of them, so a
    page that happened to show a stale counter at one reading (a redraw late on a busy machine) moves
    the rate a little, not by the whole lag (two readings once gave one session of two twice the solo
    speed on fixed-cost epochs)."""
    epochs, times = [float(e) for e, _ in readings], [t for _, t in readings]
    return statistics.linear_regression(times, epochs).slope


def run_class(browser, url: str, n: int, warmup_s: float, measure_s: float, query: str = "",
              every_s: float = 2.0) -> tuple[list[float], Health]:
    """N sessions press Play together; epochs/s of each over ``measure_s`` after ``warmup_s``, from the
    epoch counters read every ``every_s``."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(n)]
    pages = [c.new_page() for c in contexts]
    for p in pages:
        p.set_default_timeout(180_000)
        p.goto(url + "/train" + (f"?{query}" if query else ""))
    for p in pages:
        p.get_by_role("button", name="Play").wait_for()
    health = Health(url)
    health.start()
    for p in pages:
        p.get_by_role("button", name="Play").first.click()
    for p in pages:  # a click that landed while the page redrew is lost: press Play again
        for _ in range(3):
            try:
                p.get_by_role("button", name="Pause").first.wait_for(timeout=30_000)
                break
            except Exception:  # noqa: BLE001 - playwright's TimeoutError: still Play, or slow to redraw
                play = p.get_by_role("button", name="Play").first
                if play.is_visible():
                    play.click(timeout=10_000)
    time.sleep(warmup_s)
    readings: list[list[tuple[int, float]]] = [[] for _ in pages]
    end = time.perf_counter() + measure_s
    while True:
        for r, p in zip(readings, pages):
            r.append(_epoch(p))
        if time.perf_counter() >= end:
            break
        time.sleep(min(every_s, max(0.0, end - time.perf_counter())))
    rates = [_slope(r) for r in readings]
    for p in pages:
        try:
            p.get_by_role("button", name="Pause").first.click(timeout=5_000)
        except Exception:  # noqa: BLE001 - closing the session releases its worker anyway
            pass
    health.stop.set()
    health.join()
    for c in contexts:
        c.close()
    return rates, health


def chromium(nice: int) -> str:
    """Debian's chromium, started through ``nice -n NICE`` when asked (its child processes inherit it)."""
    if nice <= 0:
        return "/usr/bin/chromium"
    wrapper = Path(tempfile.mkdtemp()) / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds of training before measuring")
    ap.add_argument("--measure", type=float, default=40.0, help="seconds measured")
    ap.add_argument("--workers", default=None, help="KIRCHHOFF_WORKERS for the server (default: its own default)")
    ap.add_argument("--worker-nice", default=None, help="KIRCHHOFF_WORKER_NICE for the server (default: its own)")
    ap.add_argument("--browser-nice", type=int, default=0,
                    help="run chromium at this nice level (19: lowest priority, a stand-in for browsers elsewhere)")
    ap.add_argument("--query", default="solver=rk4&dt=0.1",
                    help="the Train page's share-link settings (default: moons with a fixed-step solver, so every "
                         "epoch costs the same; with the adaptive default an epoch's cost follows the training, "
                         "and sessions at different epochs are not comparable). '' for the page's defaults")
    ap.add_argument("--every", type=float, default=2.0, help="seconds between readings of the epoch counters")
    ap.add_argument("--rest", type=float, default=10.0, help="seconds between classes (closed sessions release)")
    args = ap.parse_args()

    port = _free_port()
    log = Path(tempfile.gettempdir()) / "kirchhoff_classroom_server.log"
    server = start_server(port, args.workers, log, args.worker_nice)
    url = f"http://127.0.0.1:{port}"
    print(f"server: KIRCHHOFF_WORKERS={args.workers or 'default'} KIRCHHOFF_WORKER_NICE={args.worker_nice or 'default'}"
          f" ({os.cpu_count()} CPU cores); chromium nice {args.browser_nice}; /train?{args.query}; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    solo = None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium(args.browser_nice), headless=True, args=CHROMIUM_ARGS)
            print(f"{'N':>2} | {'epochs/s per session':<44} | {'mean':>5} | {'total':>5} | {'vs solo':>8} | "
                  f"{'health max':>10} | {'health p95':>10} | load", flush=True)
            for n in args.sessions:
                rates, health = run_class(browser, url, n, args.warmup, args.measure, args.query, args.every)
                total, mean = sum(rates), statistics.mean(rates)
                if n == 1:
                    solo = rates[0]
                ratio = "" if solo is None or n == 1 else \
                    (f"{min(rates) / solo:.0%} min" if n == 2 else f"{total / (2 * solo):.0%} 2×")
                lat = sorted(health.latencies)
                p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
                per = " ".join(f"{r:.2f}" for r in rates)
                print(f"{n:>2} | {per:<44} | {mean:5.2f} | {total:5.2f} | {ratio:>8} | {max(lat):9.3f}s | "
                      f"{p95:9.3f}s | {os.getloadavg()[0]:.2f}" + (f" ({health.failures} failed)" if health.failures
                                                                     else ""), flush=True)
                time.sleep(args.rest)
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
