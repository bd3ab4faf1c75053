"""What the Build page's sections share: the commit of a new circuit, the layout cache, descriptions."""

from __future__ import annotations

from typing import Callable

import streamlit as st

import state
from kirchhoff_core.circuit import Circuit, CircuitError
from state import Session
from views import circuit_view

ERRORS = (CircuitError, ValueError, TypeError)  # what the core raises for bad input


def commit(session: Session, circuit: Circuit, message: str, fresh: bool = False, example: str | None = None) -> None:
    """Make ``circuit`` the session's circuit and rerun so every section shows it. ``fresh``: a new
    circuit (generated, loaded), not an edit, so the canvas forgets its node positions; ``example``:
    the shipped example it is, so the share link carries it (a trained one brings its data)."""
    state.set_circuit(session, circuit)
    if example is not None:
        state.use_example(session, example)
    if fresh:
        session.build.flow_pos = {}
    session.build.flash, session.build.flash_for = message, circuit  # shown until the circuit changes again
    session.build.upload_error = None
    st.rerun()


@st.cache_data(max_entries=32, show_spinner="Laying out the circuit…")
def _positions(token: str, layout: str, seed: int, _circuit: Circuit) -> dict[int, tuple[float, float]]:
    return circuit_view.node_positions(_circuit, layout, seed)


def positions(circuit: Circuit, layout: str, seed: int) -> dict[int, tuple[float, float]]:
    """Node positions of the drawing, cached per topology (a parameter edit keeps the layout)."""
    return _positions(circuit.fingerprint(params=False), layout, seed, circuit)


def describe(c: Circuit) -> str:
    return f"**{c.name or 'circuit'}**: {c.num_nodes} nodes, {c.num_devices:,} devices, {len(c.slices)} slice(s)"


def apply(session: Session, edit: Callable[[], Circuit], message: Callable[[Circuit], str], refused: str = "{}",
          before_commit: Callable[[Circuit], None] | None = None) -> None:
    """Run a core edit; commit its circuit with ``message(new)``, or show the core's refusal
    (``refused`` formats it) and keep the previous circuit."""
    try:
        new = edit()
    except ERRORS as e:
        st.error(refused.format(e))
        return
    if before_commit is not None:
        before_commit(new)
    commit(session, new, message(new))
