"""One play controller for everything that trains live: Train, Generate, and what comes next.

The controller talks only to ``kirchhoff_core.live.LiveTrainer`` (``step``, ``reset``, ``set_lr``,
``history``, ``steps_done``), so a ``LiveRun``'s trainer may as well be a proxy for one running in a
worker process. A page keeps a ``LiveRun`` in its session state, describes its controls with a
``Player`` and calls ``play_bar`` (Play / Pause, Step, Reset) and ``live_fragment``: a fragment that
draws, then trains for a time budget, and reruns itself every ``tick_s`` while playing. Errors pause
the run with a message; ``max_steps`` stops a forgotten tab.

Buttons work through callbacks, which run before the script, so the page always draws the new state.
AppTest cannot fire the fragment's timer, but the fragment also runs in every full script run and
trains while playing, so one ``AppTest.run()`` with Play on is one tick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from bookkeeping import Messages
from kirchhoff_core.live import LiveTrainer, StepRecord
from kirchhoff_core.solvers import SolverError

ERRORS = (SolverError, ValueError, RuntimeError)
"""What a training step may raise for a bad set-up: the run pauses with the message."""


@dataclass
class LiveRun:
    """One live trainer and its play state; ``version`` bumps whenever the parameters may have changed,
    so caches of what the model computes key on it."""

    trainer: LiveTrainer | None = None
    playing: bool = False
    version: int = 0
    on_end: Callable[[LiveTrainer], None] | None = field(default=None, repr=False, compare=False)
    """Called with the trainer whose run ends (Reset, or replaced) after at least one step: the
    Train page keeps that run in its history."""

    def end(self) -> None:
        """The current run ends here (its history is complete): tell ``on_end``."""
        if self.on_end is not None and self.trainer is not None and self.trainer.steps_done:
            self.on_end(self.trainer)

    def replace(self, trainer: LiveTrainer | None) -> int:
        """Drive ``trainer`` from now on (None: nothing to train, which stops playing). Returns the
        steps the previous trainer had done, so the page can say training restarted."""
        had = self.trainer.steps_done if self.trainer is not None else 0
        self.end()
        self.trainer = trainer
        self.playing = self.playing and trainer is not None
        self.version += 1
        return had


@dataclass(frozen=True)
class Player:
    """How a page plays its run: widget keys ``{key}_play``, ``{key}_step``, ``{key}_reset``; the word
    for one step in messages; the step limit and the time budget of one tick; and hooks."""

    key: str
    unit: str  # "epoch" or "step"
    max_steps: int
    budget_s: float  # steps per tick stop once the next one would end after this
    lr: Callable[[], float]  # the learning rate Reset restores
    messages: Messages
    tick_s: float = 0.5  # the live fragment reruns this often while playing
    step_help: str = ""
    reset_help: str = ""
    on_record: Callable[[StepRecord], None] | None = None  # after every step; raising pauses the run
    after_step: Callable[[], None] | None = None  # after the Step button's single step
    after_reset: Callable[[], None] | None = None


def advance(player: Player, run: LiveRun, budget_s: float) -> None:
    """Train until the next step would overrun ``budget_s`` (at least one step); errors pause."""
    trainer = run.trainer
    start = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            record = trainer.step()
            run.version += 1
            if player.on_record is not None:
                player.on_record(record)
            now = time.perf_counter()
            if now - start + (now - t0) > budget_s or trainer.steps_done >= player.max_steps:
                break
    except ERRORS as e:
        run.version += 1  # the failing step may have changed some parameters
        run.playing = False
        player.messages.error(f"Training paused at {player.unit} {trainer.steps_done}: {e}")
    if trainer.steps_done >= player.max_steps and run.playing:
        run.playing = False
        player.messages.note(f"Paused after {player.max_steps} {player.unit}s.")


def _toggle(run: LiveRun) -> None:
    run.playing = not run.playing and run.trainer is not None


def _step(player: Player, run: LiveRun) -> None:
    if run.trainer is not None:
        advance(player, run, 0.0)
        if player.after_step is not None:
            player.after_step()


def _reset(player: Player, run: LiveRun) -> None:
    run.playing = False
    if run.trainer is not None:
        run.end()
        run.trainer.reset()
        run.trainer.set_lr(player.lr())
        run.version += 1
        if player.after_reset is not None:
            player.after_reset()


def play_bar(player: Player, run: LiveRun, caption: str) -> None:
    """Play / Pause, Step and Reset, and a caption beside them."""
    off = run.trainer is None
    bar = st.columns([1, 1, 1, 5], vertical_alignment="center")
    bar[0].button("Pause" if run.playing else "Play", key=f"{player.key}_play", on_click=_toggle, args=(run,),
                  icon=":material/pause:" if run.playing else ":material/play_arrow:", disabled=off, type="primary",
                  width="stretch")
    bar[1].button("Step", key=f"{player.key}_step", on_click=_step, args=(player, run), icon=":material/skip_next:",
                  disabled=off or run.playing, help=player.step_help, width="stretch")
    bar[2].button("Reset", key=f"{player.key}_reset", on_click=_reset, args=(player, run), icon=":material/replay:",
                  disabled=off, help=player.reset_help, width="stretch")
    bar[3].caption(caption)


def live_fragment(player: Player, run: LiveRun, draw: Callable[[], None]) -> None:
    """The live part of the page: ``draw()``, then (while playing) one tick of training."""

    @st.fragment(run_every=player.tick_s if run.playing else None)
    def live() -> None:
        # Draw first, then train: the charts are fresh while the steps run (Streamlit fades elements a
        # run has not re-sent yet), and the next tick shows what this one trained.
        draw()
        if run.playing and run.trainer is not None:
            advance(player, run, player.budget_s)
            if not run.playing:  # paused by an error or the step limit: redraw the buttons too
                st.rerun()

    live()
