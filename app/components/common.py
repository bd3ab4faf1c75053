"""Pieces every page uses: messages, the classroom caption, the share link, the trained example."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

import state
from bookkeeping import Messages


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


def example_button(session: state.Session, messages: Messages, key: str, note: str = state.EXAMPLE_NOTE,
                   **kwargs) -> None:
    st.button("Load the trained moons example", key=key, on_click=state.load_example, icon=":material/upload_file:",
              args=(session, messages), kwargs={"note": note}, **kwargs)


def ensure_circuit(session: state.Session) -> None:
    """Build the session's circuit from the set-up if there is none yet; say so when it falls back."""
    problem = state.ensure_circuit(session)
    if problem:
        st.warning(problem)
