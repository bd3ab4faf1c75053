"""Live training off the server's interpreter: one worker process per session, a bounded number
training at a time.

Why: a Streamlit server runs every session's script in one interpreter, so sessions that train in it
contend for one GIL (two sessions on two cores each got about a quarter of the solo speed). Here a
session's trainer lives in its own process; the page sends commands (play, pause, step, reset,
set_lr, call) and reads the latest ``Snapshot`` the worker published — it never waits for training.

At most ``slots`` workers train at once (default: the CPU cores). A worker that wants to train asks
the pool for a slot; extra sessions wait in a first-come queue and see their place in it instead of
slowing everyone down. When others are waiting, a worker that has trained for ``quantum_s`` gives its
slot back after the current step and queues again, so a class shares the cores in turns.

Nobody watching, nobody training: a playing worker whose snapshot no page has read for ``unwatched_s``
pauses (its page was left or closed; the page resumes it when it comes back), and a worker whose
``owner_alive()`` has said False for ``release_s`` is closed (its browser session has gone), so a
class's closed tabs free their slots and processes without waiting for garbage collection.

When every slot trains, the cores belong to training: with ``crowded_pace`` above 1 the workers then
draw that many times less often (``pace``; a page ticks that much slower too), since each drawing
costs the worker a solve over the input plane, the server a chart rebuild and the browser a redraw.

Training is batch work and the page is interactive: with ``nice`` the workers run that much below the
process that opened the pool (``os.nice`` in each worker), so a busy server's pages and health checks
keep their CPU while the workers take every core they leave idle.

Every command from the page carries a sequence number that the worker echoes in its snapshot
(``acked``), so a page can tell a snapshot that already reflects its last command from an older one.

A worker is built from a picklable ``build()`` that returns anything implementing
``kirchhoff_core.live.LiveTrainer``, and an optional picklable ``draw(trainer)`` whose result (the
numbers a page draws: a decision-boundary grid, the current circuit, ...) rides along with the
snapshot, computed in the worker. Nothing here imports Streamlit.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing as mp
import os
import threading
import time
import weakref
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from .live import LiveTrainer

TRAINING_ERRORS = (ArithmeticError, RuntimeError, ValueError)  # SolverError is a RuntimeError


@dataclass(frozen=True)
class Snapshot:
    """What a page draws from: the worker's state, its records so far and the latest drawing payload.

    ``state`` is "starting", "idle", "waiting" (for a training slot; ``queue_position`` 1 is next),
    "training", "error" (``error`` says why; the worker is alive and paused) or "stopped" (the process
    is gone; ``error`` says why)."""

    state: str = "starting"
    playing: bool = False
    steps_done: int = 0
    history: tuple = ()
    drawing: Any = None
    drawing_step: int = -1
    error: str | None = None
    cause: str | None = None  # the failing step's own message (``error`` without "training paused at step N")
    queue_position: int | None = None
    acked: int = 0  # the sequence number of the last page command the worker applied
    version: int = 0


PAGE_COMMANDS = ("play", "pause", "step", "reset", "set_lr", "redraw")
"""Commands a page sends (each with its sequence number); the pool's own are grant, yield, suspend, pace,
call and close."""


# --- the worker process ----------------------------------------------------------------------------

def _worker_main(conn: Connection, build: Callable[[], LiveTrainer], draw: Callable[[LiveTrainer], Any] | None,
                 draw_every_s: float, nice: int = 0) -> None:
    """The child's loop: apply commands, train while it holds a slot, publish after every step."""
    import torch

    if nice > 0:
        os.nice(nice)
    torch.set_num_threads(1)
    try:
        trainer = build()
    except Exception as e:  # noqa: BLE001 - any failure to build is reported to the page, not raised
        failed = {"state": "error", "error": f"could not start training: {e}", "history_start": 0, "records": []}
        conn.send(("snap", failed))
        while (msg := conn.recv())[0] != "close":
            if msg[0] == "call":
                conn.send(("result", msg[1], False, RuntimeError(failed["error"])))
            elif msg[0] in PAGE_COMMANDS:  # acknowledged, so the page knows the answer is still this
                conn.send(("snap", {**failed, "acked": msg[1]}))
        return
    playing, holding, wanted, yield_asked = False, False, False, False
    pending, acked = 0, 0
    until: int | None = None  # playing stops once this many steps are done
    error: str | None = None
    cause: str | None = None
    last_draw = -1e9
    sent = 0  # records already sent
    pace = 1.0  # the pool's: draw every draw_every_s * pace

    def publish(force_draw: bool) -> None:
        nonlocal last_draw, sent
        msg: dict = {"state": "training" if holding and (playing or pending) else
                     ("waiting" if (playing or pending) else ("error" if error else "idle")),
                     "playing": playing, "steps_done": trainer.steps_done, "error": error, "cause": cause,
                     "acked": acked}
        hist = trainer.history
        start = min(sent, len(hist))
        msg["history_start"], msg["records"] = start, list(hist[start:])
        sent = len(hist)
        now = time.monotonic()
        if draw is not None and (force_draw or now - last_draw >= draw_every_s * pace):
            try:
                msg["drawing"] = draw(trainer)
            except TRAINING_ERRORS as e:
                msg["drawing"] = e
            msg["drawing_step"] = trainer.steps_done
            last_draw = now
        conn.send(("snap", msg))

    publish(True)
    while True:
        busy = playing or pending > 0
        if busy and not holding and not wanted:
            conn.send(("want",))
            wanted = True
        timeout = 0.0 if busy and holding else None
        changed = False
        while conn.poll(timeout):
            timeout = 0.0
            cmd, *args = conn.recv()
            if cmd == "close":
                return
            if cmd == "pace":  # nothing to publish: the next drawing comes later (or sooner)
                pace = float(args[0])
                continue
            changed = True
            if cmd in PAGE_COMMANDS:
                acked, args = args[0], args[1:]
            if cmd == "play":
                playing, error, cause, until = True, None, None, args[0]
            elif cmd in ("pause", "suspend"):
                playing, pending = False, 0
            elif cmd == "step":
                pending, error, cause = pending + int(args[0]), None, None
            elif cmd == "reset":
                playing, pending, error, cause = False, 0, None, None
                trainer.reset()
                sent = 0
            elif cmd == "set_lr":
                trainer.set_lr(float(args[0]))
            elif cmd == "redraw":
                pass  # ``changed`` publishes with a fresh drawing
            elif cmd == "grant":
                holding, wanted = True, False
            elif cmd == "yield":
                yield_asked = True
            elif cmd == "call":
                rid, fn, fargs = args
                try:
                    conn.send(("result", rid, True, fn(trainer, *fargs)))
                except Exception as e:  # noqa: BLE001 - the caller gets the exception back
                    conn.send(("result", rid, False, e))
        if holding and (playing or pending > 0):
            try:
                trainer.step()
            except TRAINING_ERRORS as e:
                playing, pending = False, 0
                cause = str(e)
                error = f"training paused at step {trainer.steps_done}: {e}"
            pending = max(0, pending - 1)
            if until is not None and trainer.steps_done >= until:
                playing = False
            done = not (playing or pending > 0)
            if done or yield_asked:
                conn.send(("release",))
                holding, yield_asked = False, False
            publish(force_draw=done)
        elif holding:  # paused while holding a slot: give it back
            conn.send(("release",))
            holding, yield_asked = False, False
            publish(True)
        elif changed:
            publish(True)


# --- the pool (in the server process) ------------------------------------------------------------

PRELOAD = ("torch", "torch._dynamo", "kirchhoff_core.live_views", "kirchhoff_core.train", "kirchhoff_core.generative")
"""What the fork server imports once for all workers. ``torch._dynamo`` because a torch optimizer's
first ``__init__`` imports it (about 800 modules: 1.5 s on an idle core, and close to a minute for a
niced worker on a class server whose cores the browsers keep busy, which left a class of eight at
almost no epochs)."""


@dataclass
class _Entry:
    """The pool's record of one worker. It never points back at the page's ``SessionWorker``, so
    when a session is dropped its handle is collected and the worker stops."""

    proc: Any
    conn: Connection
    snapshot: Snapshot = field(default_factory=Snapshot)
    granted_at: float | None = None
    yield_sent: bool = False
    results: dict = field(default_factory=dict)
    ready: threading.Condition = field(default_factory=threading.Condition)
    read_at: float = field(default_factory=time.monotonic)  # when a page last read the snapshot
    owner_alive: Callable[[], bool] | None = None
    gone_since: float | None = None  # when ``owner_alive`` first said False
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, *msg: Any) -> None:
        with self.send_lock:
            try:
                self.conn.send(msg)
            except (BrokenPipeError, OSError, ValueError):
                pass  # the process is gone; the pool reports it in the snapshot


class WorkerPool:
    """Worker processes for live sessions, at most ``slots`` training at once (see the module docstring).

    ``start_method`` "forkserver" (default on Linux) forks workers from a small server that has
    already imported ``PRELOAD``, so a new session's worker starts in a fraction of a second.
    """

    def __init__(self, slots: int | None = None, quantum_s: float = 15.0, start_method: str | None = None,
                 preload: tuple[str, ...] = PRELOAD,
                 unwatched_s: float | None = None, release_s: float = 0.0, nice: int = 0, crowded_pace: float = 1.0):
        self.slots = max(1, int(slots if slots is not None else (os.cpu_count() or 1)))
        self.crowded_pace = max(1.0, float(crowded_pace))
        self.pace = 1.0  # crowded_pace while every slot trains, else 1
        self.quantum_s = float(quantum_s)
        self.unwatched_s = unwatched_s
        self.release_s = float(release_s)
        self.nice = max(0, int(nice))
        method = start_method or ("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        self._ctx = mp.get_context(method)
        if method == "forkserver":
            self._ctx.set_forkserver_preload(list(preload))
        self._lock = threading.RLock()
        self._entries: dict[int, _Entry] = {}
        self._final: dict[int, Snapshot] = {}  # last words of workers that stopped on their own
        self._waiting: collections.deque[int] = collections.deque()
        self._ids = itertools.count(1)
        self._closed = False
        self._checked_owners = 0.0
        self._thread = threading.Thread(target=self._serve, name="kirchhoff-worker-pool", daemon=True)
        self._thread.start()

    # --- public ------------------------------------------------------------------------------------
    def open(self, build: Callable[[], LiveTrainer], draw: Callable[[LiveTrainer], Any] | None = None,
             draw_every_s: float = 1.0, owner_alive: Callable[[], bool] | None = None) -> "SessionWorker":
        """Start a worker process for one session. ``build`` and ``draw`` must be picklable
        (module-level functions, or ``functools.partial`` of them). ``owner_alive`` (called in the
        server, about once a second) says whether the session that opened the worker is still there;
        it must not hold the session itself, or the session could never be collected."""
        if self._closed:
            raise RuntimeError("the worker pool is shut down")
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, build, draw, draw_every_s, self.nice),
                                 daemon=True, name="kirchhoff-session-worker")
        proc.start()
        child.close()
        wid = next(self._ids)
        entry = _Entry(proc, parent, owner_alive=owner_alive)
        with self._lock:
            self._entries[wid] = entry
            if self.pace != 1.0:
                entry.send("pace", self.pace)
        return SessionWorker(self, wid, entry)

    @property
    def training(self) -> int:
        """Workers training right now."""
        with self._lock:
            return sum(e.granted_at is not None for e in self._entries.values())

    @property
    def waiting(self) -> int:
        """Workers waiting for a slot."""
        with self._lock:
            return len(self._waiting)

    @property
    def workers(self) -> int:
        """Open workers (live sessions)."""
        with self._lock:
            return len(self._entries)

    def counts(self) -> dict[str, int]:
        """``slots``, open ``workers``, workers ``training`` and ``waiting`` now (for a status line)."""
        with self._lock:
            return {"slots": self.slots, "workers": len(self._entries),
                    "training": sum(e.granted_at is not None for e in self._entries.values()),
                    "waiting": len(self._waiting)}

    def shutdown(self) -> None:
        """Stop every worker (what a server does on exit; tests too)."""
        self._closed = True
        with self._lock:
            ids = list(self._entries)
        for wid in ids:
            self._close(wid)
        self._thread.join(timeout=5)

    # --- internals ---------------------------------------------------------------------------------
    def _snapshot(self, wid: int) -> Snapshot:
        with self._lock:
            e = self._entries.get(wid)
            if e is None:
                return self._final.get(wid) or Snapshot(state="stopped", error="this session's worker was closed")
            e.read_at = time.monotonic()
            snap = e.snapshot
            if wid in self._waiting:
                snap = replace(snap, state="waiting", queue_position=self._waiting.index(wid) + 1)
            elif snap.state == "waiting":
                # The worker's word is older than the pool's: either its slot is granted (the grant is
                # on its way) or its request is (it goes to the back of the queue). Say which.
                snap = (replace(snap, state="training") if e.granted_at is not None
                        else replace(snap, queue_position=len(self._waiting) + 1))
            return snap

    def _close(self, wid: int) -> None:
        """Forget the worker (its slot and place in the queue go to others), then stop its process."""
        with self._lock:
            e = self._entries.pop(wid, None)
            if wid in self._waiting:
                self._waiting.remove(wid)
        if e is not None:
            self._schedule()
            e.send("close")
            e.proc.join(timeout=2)
            if e.proc.is_alive():
                e.proc.kill()
                e.proc.join(timeout=2)
            e.conn.close()

    def _died(self, wid: int) -> None:
        with self._lock:
            e = self._entries.pop(wid, None)
            if wid in self._waiting:
                self._waiting.remove(wid)
            if e is None:
                return
            e.proc.join(timeout=1)
            self._final[wid] = replace(
                e.snapshot, state="stopped", playing=False, version=e.snapshot.version + 1,
                error=f"the training worker stopped unexpectedly (exit code {e.proc.exitcode}); press Reset or "
                      "reload the page to start a new one")
        e.conn.close()
        with e.ready:
            e.ready.notify_all()
        self._schedule()

    def _schedule(self) -> None:
        """Grant free slots to the head of the queue; ask long-running workers to yield to waiters."""
        with self._lock:
            active = [e for e in self._entries.values() if e.granted_at is not None]
            while self._waiting and len(active) < self.slots:
                e = self._entries[self._waiting.popleft()]
                e.granted_at, e.yield_sent = time.monotonic(), False
                e.send("grant")
                active.append(e)
            if self._waiting:
                now = time.monotonic()
                for e in active:
                    if not e.yield_sent and now - e.granted_at >= self.quantum_s:
                        e.yield_sent = True
                        e.send("yield")
            pace = self.crowded_pace if len(active) >= self.slots else 1.0
            if pace != self.pace:
                self.pace = pace
                for e in self._entries.values():
                    e.send("pace", pace)

    def _handle(self, wid: int, msg: tuple) -> None:
        kind = msg[0]
        with self._lock:
            e = self._entries.get(wid)
            if e is None:
                return
            if kind == "want":
                if wid not in self._waiting and e.granted_at is None:
                    self._waiting.append(wid)
            elif kind == "release":
                e.granted_at = None
            elif kind == "snap":
                data = msg[1]
                old = e.snapshot
                history = old.history[: data.pop("history_start")] + tuple(data.pop("records"))
                e.snapshot = replace(old, history=history, version=old.version + 1,
                                     **{k: v for k, v in data.items() if k in Snapshot.__dataclass_fields__})
        if kind == "result":
            with e.ready:
                e.results[msg[1]] = (msg[2], msg[3])
                e.ready.notify_all()
        self._schedule()

    def _watch(self) -> None:
        """Pause playing workers that nobody watches; close workers whose session has gone."""
        now = time.monotonic()
        gone = []
        with self._lock:
            entries = list(self._entries.items())
        for wid, e in entries:
            if self.unwatched_s is not None and e.snapshot.playing and now - e.read_at > self.unwatched_s:
                e.read_at = now  # ask once; the page's controller plays it again when it comes back
                e.send("suspend")
        if now - self._checked_owners < 1.0:
            return
        self._checked_owners = now
        for wid, e in entries:
            if e.owner_alive is None:
                continue
            try:
                alive = bool(e.owner_alive())
            except Exception:  # noqa: BLE001 - a failing check must not stop the pool; keep the worker
                alive = True
            if alive:
                e.gone_since = None
            elif e.gone_since is None:
                e.gone_since = now
            if e.gone_since is not None and now - e.gone_since >= self.release_s:
                gone.append(wid)
                with self._lock:
                    self._final[wid] = replace(e.snapshot, state="stopped", playing=False,
                                               error="the training worker was released while this page was "
                                                     "disconnected; press Reset to start a new one")
        for wid in gone:  # off this thread: closing joins the process
            threading.Thread(target=self._close, args=(wid,), daemon=True).start()

    def _serve(self) -> None:
        while not self._closed:
            self._watch()
            with self._lock:
                conns = {e.conn: wid for wid, e in self._entries.items()}
            if not conns:
                time.sleep(0.05)
                continue
            try:
                ready = wait(list(conns), timeout=0.25)
            except (OSError, ValueError):  # a connection was closed under us: look again
                continue
            for conn in ready:
                wid = conns[conn]
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    self._died(wid)
                    continue
                self._handle(wid, msg)
            self._schedule()


class SessionWorker:
    """The page's handle on one session's worker: commands go in, ``snapshot`` comes out.

    Commands return at once; ``call`` runs ``fn(trainer, *args)`` in the worker and waits for its
    result (for rare reads such as exporting the trained circuit). When the handle is dropped (the
    browser session ended and its state was collected) the worker stops and frees its slot."""

    def __init__(self, pool: WorkerPool, wid: int, entry: _Entry):
        self.pool, self.id, self._entry = pool, wid, entry
        self._rids = itertools.count(1)
        self.sent = 0  # sequence number of the last page command (``Snapshot.acked`` echoes it)
        self._finalizer = weakref.finalize(self, pool._close, wid)

    # --- commands ----------------------------------------------------------------------------------
    def _command(self, cmd: str, *args: Any) -> None:
        self.sent += 1
        self._entry.send(cmd, self.sent, *args)

    def play(self, until: int | None = None) -> None:
        """Train step after step (until ``until`` steps are done, if given: at least one more step)."""
        self._command("play", None if until is None else int(until))

    def pause(self) -> None:
        self._command("pause")

    def step(self, n: int = 1) -> None:
        self._command("step", int(n))

    def reset(self) -> None:
        self._command("reset")

    def set_lr(self, lr: float) -> None:
        self._command("set_lr", float(lr))

    def redraw(self) -> None:
        """Publish a fresh drawing (after a ``call`` changed what it shows)."""
        self._command("redraw")

    def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float = 60.0) -> Any:
        """Run ``fn(trainer, *args)`` in the worker (between steps) and return its result."""
        rid = next(self._rids)
        e = self._entry
        e.send("call", rid, fn, args)
        deadline = time.monotonic() + timeout_s
        with e.ready:
            while rid not in e.results:
                left = deadline - time.monotonic()
                if not self.alive:
                    raise RuntimeError(self.snapshot.error or "the training worker has stopped")
                if left <= 0:
                    raise TimeoutError(f"the training worker did not answer within {timeout_s:g} s")
                e.ready.wait(min(left, 0.25))
            ok, value = e.results.pop(rid)
        if not ok:
            raise value
        return value

    # --- state -------------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        """The latest state the worker published (never waits for training)."""
        return self.pool._snapshot(self.id)

    @property
    def settled(self) -> bool:
        """The latest snapshot reflects every command sent so far."""
        return self.snapshot.acked >= self.sent

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self.id in self.pool._entries and self._entry.proc.is_alive()

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout_s: float = 30.0) -> Snapshot:
        """Block until ``predicate(snapshot)`` holds (scripts and tests; a page only polls)."""
        deadline = time.monotonic() + timeout_s
        while True:
            snap = self.snapshot
            if predicate(snap):
                return snap
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker state {snap.state!r} after {timeout_s:g} s")
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the worker process and free its slot (what a closed session does)."""
        self._finalizer()
