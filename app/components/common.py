"""Pieces every page uses: messages, the classroom caption, the share link, the trained examples and
the line that says where the page's model comes from."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

import state
from bookkeeping import Messages
from views.format import metric_label, metric_text


def link_message(session: state.Session) -> None:
    """What the link could not set up (the app shows it first; this is for a page run on its own)."""
    if session.message:
        st.warning(session.message)
        session.message = None


def show_messages(messages: Messages) -> None:
    """Errors and notes left for this run."""
    errors, notes = messages.take()
    for text in errors:
        st.error(text)
    for text in notes:
        st.info(text)


def page_header(session: state.Session, page: str, title: str, caption: str, messages: Messages | None = None) -> None:
    """Title and what the page is for; then what the link could not set up, the messages left for
    this run, and which control groups a classroom link hides here."""
    st.header(title)
    st.caption(caption)
    link_message(session)
    if messages is not None:
        show_messages(messages)
    shown = sorted(state.hidden(session) & set(state.HIDE_GROUPS.get(page, ())))
    if shown:
        st.caption(f"Classroom mode: the link hides {', '.join(shown)} controls.")


def dataset(session: state.Session, messages: Messages):
    """The session's dataset (None while drawn points are not one yet), with any fallback reported."""
    state.ensure_data(session, messages)
    show_messages(messages)
    return session.data


def share_link(query: dict[str, str], path: str, what: str) -> None:
    """The page's share link (its address with the settings that differ from the defaults)."""
    base = st.context.url or f"http://localhost:8501/{path}"
    st.caption(f"Share link — reproduces {what}:")
    st.code(base + ("?" + urlencode(query) if query else ""), language=None)


def example_text(dataset: str, stem: str) -> str:
    """'spirals · 98.0% accuracy' (its test metric) for a trained example."""
    record = state.example_record(stem)
    if record is None:
        return dataset
    r = record.result
    value, name = metric_text(r["test_metric"], r["metric"]), metric_label(r["metric"])
    return f"{dataset} · {value} {name}" if r["metric"] == "accuracy" else f"{dataset} · {name} {value}"


def example_picker(session: state.Session, messages: Messages, key: str, note: str = state.EXAMPLE_NOTE,
                   **kwargs) -> None:
    """'Load a trained example': one per dataset (assets/examples/<dataset>_trained.json), the session's
    dataset first; loading it brings the data it was trained on. ``kwargs`` go to the button."""
    trained = state.trained_examples()
    if not trained:
        return
    names = list(trained)
    dataset = session.config.dataset if session.config.dataset in trained else names[0]
    choice = st.selectbox("Load a trained example", names, index=names.index(dataset),
                          key=f"{key}_choice_{session.config.dataset}",  # a new dataset: a new default
                          format_func=lambda d: example_text(d, trained[d]),
                          help="A circuit trained on each dataset and shipped with the playground "
                               "(scripts/make_examples.py). Loading it also switches to the data it was trained on; "
                               "a link with ?example=DATASET opens it directly.")
    st.button("Load the trained example", key=key, on_click=state.load_example, icon=":material/upload_file:",
              args=(session, messages, trained[choice]), kwargs={"note": note}, **kwargs)


def model_source(session: state.Session) -> tuple[str, bool]:
    """Where the pages' model comes from, in words, and whether it is trained: the Train page's run,
    a shipped trained example (perhaps trained further), or the circuit as built."""
    epochs = state.trained_epochs(session)
    example = state.example_in_use(session)
    if example is not None:
        stem, record = example
        r, name = record.result, record.dataset.get("name", "?")
        text = (f"the trained {name} example ({metric_text(r['test_metric'], r['metric'])} test "
                f"{metric_label(r['metric'])} after {record.steps} epochs; assets/examples/{stem}.json)")
        if epochs:
            text += f", trained {epochs} more epoch(s) on the Train page"
        if session.config.dataset != name:
            text += f" — note: it was trained on {name}, the session's dataset is now {session.config.dataset}"
        return text, True
    if epochs:
        return f"trained on the Train page (epoch {epochs})", True
    return "as built: not trained (train it on the Train page, or load a trained example)", False


def ensure_circuit(session: state.Session) -> None:
    """Build the session's circuit from the set-up if there is none yet; say so when it falls back."""
    problem = state.ensure_circuit(session)
    if problem:
        st.warning(problem)
