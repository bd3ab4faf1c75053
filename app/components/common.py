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


def classroom_caption(hidden: set[str], page: str) -> None:
    shown = sorted(hidden & set(state.HIDE_GROUPS[page]))
    if shown:
        st.caption(f"Classroom mode: the link hides {', '.join(shown)} controls.")


def share_link(query: dict[str, str], path: str, what: str) -> None:
    """The page's share link (its address with the settings that differ from the defaults)."""
    base = st.context.url or f"http://localhost:8501/{path}"
    st.caption(f"Share link — reproduces {what}:")
    st.code(base + ("?" + urlencode(query) if query else ""), language=None)


def example_button(session: state.Session, messages: Messages, key: str, **kwargs) -> None:
    st.button("Load the trained moons example", key=key, on_click=state.load_example, args=(session, messages),
              icon=":material/upload_file:", **kwargs)
