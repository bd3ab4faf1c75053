"""One play controller for everything that trains live: Train, Generate, and what comes next.

A page keeps a ``LiveRun`` in its session state, starts it with a picklable ``build()`` (the
trainer) and ``draw(trainer)`` (what the page draws of it, from ``kirchhoff_core.live_views``),
describes its controls with a ``Player`` and calls ``play_bar`` (Play / Pause, Step, Reset) and
``live_fragment``, a fragment that draws the run's latest ``Snapshot`` and reruns itself every
``tick_s`` while anything is going on. Errors pause the run with a message; ``max_steps`` stops a
forgotten tab.

The run trains in one of two places, and the controller drives both through the same calls:

- in a worker process of the server's pool (``classroom``, the default): buttons send commands,
  the fragment reads the worker's snapshot (history and drawing computed there) and never waits for
  training. The controller reconciles what the page asked for with what the worker reports: a
  finished Step runs the page's ``after_step``, an error or the step limit pauses the page, and a run
  the pool paused while nobody watched is played again when the page is back.
- in the server process (``KIRCHHOFF_WORKERS=0``): the fragment trains for a time budget per tick.
  AppTest cannot fire the fragment's timer, but the fragment also runs in every full script run and
  trains while playing, so one ``AppTest.run()`` with Play on is one tick.

Buttons work through callbacks, which run before the script, so the page always draws the new state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import streamlit as st

import classroom
from bookkeeping import Messages
from kirchhoff_core.live import LiveTrainer, StepRecord
from kirchhoff_core.solvers import SolverError
from kirchhoff_core.workers import SessionWorker, Snapshot

ERRORS = (SolverError, ValueError, RuntimeError)
"""What a training step may raise for a bad set-up: the run pauses with the message."""

BUSY = ("starting", "waiting", "training")


@dataclass
class LiveRun:
    """One live run and its play state. ``trainer`` is set when it trains in this process, ``worker``
    when it trains in a worker process. ``playing`` is what the page asked for; ``version`` bumps
    whenever the parameters may have changed, so caches of what the model computes key on it."""

    trainer: LiveTrainer | None = None
    worker: SessionWorker | None = None
    playing: bool = False
    version: int = 0
    seen: int = 0  # records already handed to the player's ``on_record``
    seen_version: int = -1  # the worker snapshot whose records were handed over
    stepping: bool = False  # a Step the worker has not finished yet
    build: Callable[[], LiveTrainer] | None = None
    draw: Callable[[Any], Any] | None = None
    draw_every_s: float = 1.0
    drawn: tuple | None = None  # in-process: (version, time, steps, drawing)
    bar: tuple = ()  # what the play bar showed in this script run (``bar_state``)
    on_end: Callable[[Sequence[StepRecord]], None] | None = field(default=None, repr=False, compare=False)
    """Called with the records of a run that ends (Reset, or a new set-up) after at least one step:
    the Train page keeps that run in its history."""

    @property
    def active(self) -> bool:
        return self.trainer is not None or self.worker is not None

    @property
    def steps_done(self) -> int:
        if self.worker is not None:
            return self.worker.snapshot.steps_done
        return self.trainer.steps_done if self.trainer is not None else 0

    @property
    def history(self):
        """The run's records so far (a worker's: as of its latest snapshot)."""
        if self.worker is not None:
            return self.worker.snapshot.history
        return self.trainer.history if self.trainer is not None else ()

    def end(self) -> None:
        """The current run ends here (its history is complete, as of a worker's latest snapshot): tell
        ``on_end``."""
        if self.on_end is not None and self.steps_done:
            self.on_end(self.history)

    def start(self, build: Callable[[], LiveTrainer], draw: Callable[[Any], Any], draw_every_s: float = 1.0) -> int:
        """Train what ``build()`` makes from now on: in a worker process, or here when the server trains
        in-process (then ``build``'s errors are raised here; a worker reports them in its snapshot).
        Returns the steps the previous run had done, so the page can say training restarted."""
        trainer = build() if classroom.pool() is None else None
        had = self.stop()
        self.trainer, self.build, self.draw, self.draw_every_s = trainer, build, draw, draw_every_s
        if trainer is None:
            self.worker = classroom.open_worker(build, draw, draw_every_s)
        return had

    def stop(self) -> int:
        """Nothing to train (a new set-up is coming): stop playing and close the worker. Returns the
        steps the run had done."""
        had = self.steps_done
        self.end()
        worker, self.worker, self.trainer = self.worker, None, None
        if worker is not None:  # closing joins the process: not on the page's thread
            threading.Thread(target=worker.close, daemon=True).start()
        self.playing, self.stepping, self.seen, self.seen_version, self.drawn = False, False, 0, -1, None
        self.version += 1
        return had

    def snapshot(self) -> Snapshot:
        """The run as the page draws it: the worker's latest snapshot, or the same made here."""
        if self.worker is not None:
            return self.worker.snapshot
        t = self.trainer
        if t is None:
            return Snapshot(state="stopped")
        now = time.monotonic()
        d = self.drawn
        if d is None or (d[0] != self.version and not (self.playing and now - d[1] < self.draw_every_s)):
            try:
                drawing = self.draw(t) if self.draw is not None else None
            except ERRORS as e:
                drawing = e
            d = self.drawn = (self.version, now, t.steps_done, drawing)
        return Snapshot(state="training" if self.playing else "idle", playing=self.playing, steps_done=t.steps_done,
                        history=tuple(t.history), drawing=d[3], drawing_step=d[2])

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(trainer, *args)`` where the trainer is (for reads such as an export, and rare changes)."""
        if self.worker is not None:
            return self.worker.call(fn, *args)
        return fn(self.trainer, *args)

    def set_lr(self, lr: float) -> None:
        """The new learning rate from the next step on, without a restart."""
        if self.worker is not None:
            self.worker.set_lr(lr)
        elif self.trainer is not None:
            self.trainer.set_lr(lr)

    def changed(self) -> None:
        """A ``call`` changed the trainer: draw it afresh."""
        self.version += 1
        if self.worker is not None:
            self.worker.redraw()

    def busy(self) -> bool:
        """Something is going on that the page should follow: playing, or a worker still busy."""
        if self.worker is None:
            return self.playing
        snap = self.worker.snapshot
        if snap.state == "stopped":
            return False
        return self.playing or self.stepping or snap.acked < self.worker.sent or snap.state in BUSY


@dataclass(frozen=True)
class Player:
    """How a page plays its run: widget keys ``{key}_play``, ``{key}_step``, ``{key}_reset``; the word
    for one step in messages; the step limit and the time budget of one tick; and hooks."""

    key: str
    unit: str  # "epoch" or "step"
    max_steps: int
    budget_s: float  # in-process: steps per tick stop once the next one would end after this
    lr: Callable[[], float]  # the learning rate Reset restores
    messages: Messages
    tick_s: float = 1.0
    """The live fragment reruns this often while the run is busy. Every rerun costs the server a script
    run and the browser a redraw of the fragment (a class server has one per playing session): once a
    second keeps the counters live at half the cost of twice a second."""
    step_help: str = ""
    reset_help: str = ""
    on_record: Callable[[StepRecord], None] | None = None  # for every new record; raising pauses the run
    after_step: Callable[[], None] | None = None  # after the Step button's single step
    after_reset: Callable[[], None] | None = None


def _pause(player: Player, run: LiveRun, steps: int, why: str) -> None:
    run.playing = run.stepping = False
    if run.worker is not None and run.worker.alive:
        run.worker.pause()
    player.messages.error(f"Training paused at {player.unit} {steps}: {why}")


def _take(player: Player, run: LiveRun, history) -> bool:
    """Hand the records the page has not seen to ``on_record``; False when one of them paused the run."""
    new, run.seen = history[run.seen:], len(history)
    if player.on_record is None:
        return True
    for rec in new:
        try:
            player.on_record(rec)
        except ERRORS as e:
            _pause(player, run, rec.step, str(e))
            return False
    return True


def advance(player: Player, run: LiveRun, budget_s: float) -> None:
    """In-process: train until the next step would overrun ``budget_s`` (at least one step); errors pause."""
    trainer = run.trainer
    start = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            trainer.step()
            run.version += 1
            if not _take(player, run, trainer.history):
                return
            now = time.perf_counter()
            if now - start + (now - t0) > budget_s or trainer.steps_done >= player.max_steps:
                break
    except ERRORS as e:
        run.version += 1  # the failing step may have changed some parameters
        _pause(player, run, trainer.steps_done, str(e))
    if trainer.steps_done >= player.max_steps and run.playing:
        run.playing = False
        player.messages.note(f"Paused after {player.max_steps} {player.unit}s.")


def follow(player: Player, run: LiveRun) -> tuple[Snapshot, bool]:
    """A worker's run: bring the page in step with the worker's latest snapshot. Returns the snapshot
    and whether the page must be drawn again in full (the buttons or messages changed)."""
    worker = run.worker
    snap = worker.snapshot
    if snap.state != "stopped" and snap.acked < worker.sent:
        return snap, False  # the worker has not seen the page's last command yet
    if snap.version != run.seen_version:
        run.seen_version = snap.version
        if len(snap.history) < run.seen:
            run.seen = 0
        if len(snap.history) > run.seen:
            run.version += 1
            if not _take(player, run, snap.history):
                return snap, True
    asked = run.playing or run.stepping
    if snap.state == "stopped" or (snap.error and asked):
        if asked:
            _pause(player, run, snap.steps_done, snap.cause or snap.error)
            return snap, True
        return snap, False
    if run.stepping and snap.state == "idle":
        run.stepping = False
        if player.after_step is not None:
            player.after_step()
        return snap, True
    if run.playing and not snap.playing and snap.state not in BUSY:
        if snap.steps_done >= player.max_steps:
            run.playing = False
            player.messages.note(f"Paused after {player.max_steps} {player.unit}s.")
            return snap, True
        worker.play(until=player.max_steps)  # paused while nobody watched: the page is back
    return snap, False


def _toggle(player: Player, run: LiveRun) -> None:
    run.playing = not run.playing and run.active
    if run.worker is not None:
        if run.playing:
            run.worker.play(until=player.max_steps)
        else:
            run.worker.pause()


def _step(player: Player, run: LiveRun) -> None:
    if run.worker is not None:
        run.stepping = True
        run.worker.step(1)
    elif run.trainer is not None:
        advance(player, run, 0.0)
        if player.after_step is not None:
            player.after_step()


def _reset(player: Player, run: LiveRun) -> None:
    run.playing = run.stepping = False
    if not run.active:
        return
    if run.worker is not None and run.worker.snapshot.state == "stopped":  # the worker is gone: a new one
        run.start(run.build, run.draw, run.draw_every_s)  # (which ends the run)
    run.end()
    if run.worker is not None:
        run.worker.reset()
        run.worker.set_lr(player.lr())
    else:
        run.trainer.reset()
        run.trainer.set_lr(player.lr())
    run.seen = 0
    run.version += 1
    if player.after_reset is not None:
        player.after_reset()


def bar_state(run: LiveRun) -> tuple[bool, bool, bool]:
    """(active, playing, pausing): pausing is a worker still finishing the step it was in when the page
    paused it; the buttons say so until it has stopped."""
    pausing = not run.playing and run.worker is not None and run.worker.snapshot.playing
    return run.active, run.playing, pausing


def play_bar(player: Player, run: LiveRun, caption: str) -> None:
    """Play / Pause, Step and Reset, and a caption beside them."""
    run.bar = bar_state(run)
    off, pausing = not run.active, run.bar[2]
    bar = st.columns([1, 1, 1, 5], vertical_alignment="center")
    label, icon = (("Pause", ":material/pause:") if run.playing else ("Pausing…", ":material/hourglass_top:")
                   if pausing else ("Play", ":material/play_arrow:"))
    bar[0].button(label, key=f"{player.key}_play", on_click=_toggle, args=(player, run), icon=icon,
                  disabled=off or pausing, type="primary", width="stretch")
    bar[1].button("Step", key=f"{player.key}_step", on_click=_step, args=(player, run), icon=":material/skip_next:",
                  disabled=off or run.playing or pausing, help=player.step_help, width="stretch")
    bar[2].button("Reset", key=f"{player.key}_reset", on_click=_reset, args=(player, run), icon=":material/replay:",
                  disabled=off, help=player.reset_help, width="stretch")
    bar[3].caption(caption)


def _where(snap: Snapshot) -> None:
    """Where a worker's run stands, when it is not simply idle or training. Always one element (an
    empty one when there is nothing to say): a message that comes and goes at the top would shift
    every element drawn after it, and the browser would build them all again at each turn."""
    place = st.empty()
    if snap.state == "starting":
        place.caption("Starting this session's training worker…")
    elif snap.state == "waiting":
        place.info(classroom.queue_message(snap), icon=":material/hourglass_top:")
    elif snap.state in ("error", "stopped") and snap.drawing is None and snap.error:
        place.error(f"Training is not available: {snap.error}")


def _tick_s(player: Player, run: LiveRun) -> float | None:
    """How often the live fragment reruns: never when idle, else ``tick_s``, times the class server's
    pace for a worker's page (slower while all the training slots are taken, which is also when pages
    wait in line). A new period needs a full page run, so it changes only with the pace."""
    if not (run.busy() or (bool(run.bar) and run.bar[2])):
        return None
    return player.tick_s * (classroom.pace() if run.worker is not None else 1.0)


def live_fragment(player: Player, run: LiveRun, draw: Callable[[Snapshot], None]) -> None:
    """The live part of the page: ``draw(snapshot)`` and, while the run is busy, a timer that follows
    (a worker) or trains (in-process) every ``_tick_s``."""
    tick = _tick_s(player, run)

    @st.fragment(run_every=tick)
    def live() -> None:
        if run.bar and bar_state(run)[0] != run.bar[0]:
            st.rerun()  # a callback of this run started or stopped the training: the whole page changes
        if run.worker is None:
            # Draw first, then train: the charts are fresh while the steps run (Streamlit fades elements
            # a run has not re-sent yet), and the next tick shows what this one trained.
            draw(run.snapshot())
            if run.playing and run.trainer is not None:
                advance(player, run, player.budget_s)
                if not run.playing:  # paused by an error or the step limit: redraw the buttons too
                    st.rerun()
            return
        snap, redraw_page = follow(player, run)
        _where(snap)
        draw(snap)
        if redraw_page or _tick_s(player, run) != tick or bar_state(run) != run.bar:
            st.rerun()  # the buttons changed, or the timer should start, stop or change its pace

    live()
