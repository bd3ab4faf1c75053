"""Where the playground trains: a worker process per browser session, a bounded number at once.

A Streamlit server runs every session's script in one interpreter; training there made two sessions
each run at a quarter of the solo speed. So the Train and Generate pages train in
``kirchhoff_core.workers`` processes, one per session and page, and only draw what the workers
publish. Settings (environment variables of the server):

- ``KIRCHHOFF_WORKERS``: how many sessions train at the same time (default: the CPU cores). Others
  wait in line and see their place. ``0`` trains inside the server process, as before the pool (one
  interpreter for everybody; the AppTest suites use it, since AppTest cannot fire the live timer).
- ``KIRCHHOFF_WORKER_TURN_S``: how long a worker trains while others wait before it gives its slot to
  the next in line (default 5 s).
- ``KIRCHHOFF_WORKER_NICE``: how far below the server's CPU priority the workers train (default 10;
  ``os.nice``, 0 to 19). Training is batch work and the pages are interactive: on a busy server the
  workers take the cores the server leaves idle, and the pages and the health endpoint stay
  responsive.
- ``KIRCHHOFF_CROWDED_PACE``: while every worker slot trains (the cores are all taken by training),
  live pages draw and tick this many times less often (default 2: charts every 2 s instead of every
  second). Each drawing costs the worker a solve over the input plane, the server a chart rebuild
  and a browser on the same machine a redraw; ``1`` keeps the pace.
- ``KIRCHHOFF_RELEASE_S``: how long after a browser session disconnected its workers are closed
  (default: the server's ``server.disconnectedSessionTTL``, 120 s, the time Streamlit keeps a
  session for a reconnect).

A worker that nobody has watched for ``UNWATCHED_S`` (its page was left or closed) pauses at once,
so a closed tab frees its training slot within seconds and its process after the release time.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import streamlit as st

from kirchhoff_core.workers import SessionWorker, Snapshot, WorkerPool

UNWATCHED_S = 15.0  # a playing page polls every second; this is long enough for a busy server
DEFAULT_TURN_S = 5.0
DEFAULT_NICE = 10
DEFAULT_CROWDED_PACE = 2.0


def _number(name: str, default: float, low: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    return max(low, value)


def workers_wanted() -> int:
    """``KIRCHHOFF_WORKERS`` (default: the CPU cores); 0 trains in the server process."""
    return int(_number("KIRCHHOFF_WORKERS", os.cpu_count() or 1, 0))


def worker_nice() -> int:
    """``KIRCHHOFF_WORKER_NICE`` (default 10, at most 19): the workers' CPU priority below the server's."""
    return int(min(19, _number("KIRCHHOFF_WORKER_NICE", DEFAULT_NICE, 0)))


@st.cache_resource(show_spinner=False)
def _pool(slots: int, turn_s: float, release_s: float, nice: int, crowded_pace: float) -> WorkerPool:
    return WorkerPool(slots=slots, quantum_s=turn_s, unwatched_s=UNWATCHED_S, release_s=release_s, nice=nice,
                      crowded_pace=crowded_pace)


def pool() -> WorkerPool | None:
    """The server's pool of training workers (None: train in this process)."""
    slots = workers_wanted()
    if slots == 0:
        return None
    release = _number("KIRCHHOFF_RELEASE_S", float(st.get_option("server.disconnectedSessionTTL")), 0)
    return _pool(slots, _number("KIRCHHOFF_WORKER_TURN_S", DEFAULT_TURN_S, 0.1), release, worker_nice(),
                 _number("KIRCHHOFF_CROWDED_PACE", DEFAULT_CROWDED_PACE, 1.0))


def pace() -> float:
    """How many times slower than usual live pages draw and tick now (``KIRCHHOFF_CROWDED_PACE`` while
    every training slot is taken, else 1)."""
    p = pool()
    return p.pace if p is not None else 1.0


def _session_alive(session_id: str | None) -> bool:
    """Whether the browser session is still connected (True outside a running server)."""
    from streamlit.runtime import Runtime

    if session_id is None or not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(session_id)


def open_worker(build: Callable[[], Any], draw: Callable[[Any], Any], draw_every_s: float) -> SessionWorker:
    """A worker for this browser session, closed when the session has been gone for the release time.
    The liveness check holds only the session's id, never its state, so the state can be collected."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    alive = functools.partial(_session_alive, ctx.session_id if ctx is not None else None)
    return pool().open(build, draw, draw_every_s=draw_every_s, owner_alive=alive)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def queue_message(snap: Snapshot) -> str:
    """What a session waiting for a training slot is told."""
    p = pool()
    slots = p.slots if p is not None else 1
    place = f"you are {_ordinal(snap.queue_position)} in line" if snap.queue_position else "you are in line"
    turn = p.quantum_s if p is not None else DEFAULT_TURN_S
    return (f"All {slots} training worker{'s are' if slots > 1 else ' is'} busy; {place}. Training starts when "
            f"one is free — sessions take turns of {turn:g} s, so nobody's training slows the others down.")


def status() -> str | None:
    """One line on the server's training workers (a lecturer's view; the browser tests read it)."""
    p = pool()
    if p is None:
        return None
    c = p.counts()
    return (f"Training workers: {c['training']} of {c['slots']} busy · {c['waiting']} waiting · "
            f"{c['workers']} open")
