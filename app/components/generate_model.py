"""Generate page model: settings -> flow circuit -> trainer, the callbacks that change them, and the
play controller's hooks. Everything lives in ``session.generate`` (a ``state.GeneratePage``); the
trainer runs in the session's worker (``live.LiveRun``), and the numbers come from
``kirchhoff_core.live_views``, computed next to it."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import numpy as np
import streamlit as st

from components import generate_files as files
from kirchhoff_core import flow_analysis as fa
from kirchhoff_core import guards
from kirchhoff_core import live_views as lv
from kirchhoff_core.live import StepRecord
from kirchhoff_core.solvers import SolverError
from live import ERRORS, Player
from settings import GenerateSettings
from state import GeneratePage

MAX_STEPS = 3000  # playing pauses here so a forgotten tab does not train forever
REPEATS = {"[25, 25]": (25, 25), "[10, 10]": (10, 10), "[5, 5]": (5, 5)}
SNAPSHOT_EVERY_S = 3.0  # while playing, the density panels refresh at most this often (they cost ~ 3 steps)
GRID_RES = 40  # model / target density grid
N_SAMPLES = 800  # model samples in the overview
ANIM_RES, ANIM_FRAMES, FIELD_RES, N_FLOW_POINTS = 32, 16, 15, 500  # the flow animation


def metric_name(g: GeneratePage) -> str:
    return "NLL" if g.settings.task == "generate" else "KL"


@st.cache_data(show_spinner=False, max_entries=32)
def _box(task: str, name: str) -> float:
    return fa.plot_box(task, name)


def box(s: GenerateSettings) -> float:
    """Half the side of the square the densities are drawn on, for this target."""
    return _box(s.task, s.name)


def _circuit(g: GeneratePage) -> None:
    """The circuit the settings describe: the shipped pretrained one, or the paper's, freshly drawn."""
    s = g.settings
    if s.pretrained:
        try:
            g.circuit, _ = files.read_pretrained(s.name)
            g.auto_animate = True
        except ValueError as e:
            g.messages.error(str(e))
            g.settings = s = replace(s, pretrained=False)
    if g.circuit is None:
        try:
            g.circuit = s.circuit()
        except ValueError as e:
            g.messages.error(f"Circuit: {e}; back to the paper's circuit for {s.name}.")
            g.settings = s = s.with_preset()
            g.circuit = s.circuit()


def ensure_trainer(g: GeneratePage) -> None:
    """(Re)build the circuit and the trainer when a control invalidated them."""
    if g.circuit is None:
        _circuit(g)
    if g.run.active:
        return
    s = g.settings
    g.animation = None
    g.evals, g.eval0, g.eval0_problem = [], None, None
    try:
        g.run.start(partial(lv.build_flow, g.circuit, s.solver(), s.train_config()),
                    partial(lv.flow_view, resolution=GRID_RES, n_samples=N_SAMPLES, box=box(s)), SNAPSHOT_EVERY_S)
    except ERRORS as e:
        g.messages.error(f"This set-up cannot be trained: {e}")
        return
    if g.had_steps:
        g.messages.note(f"The set-up changed, so training restarted from step 0 (it was at step {g.had_steps}).")
        g.had_steps = 0


def take_view(g: GeneratePage, view: lv.FlowView | None) -> None:
    """The untrained circuit's held-out score (the first point of the curve) from a step-0 drawing."""
    if view is None or view.step != 0 or g.eval0 is not None or g.eval0_problem is not None:
        return
    if view.held_out_error is not None:
        g.eval0_problem = f"Could not evaluate the held-out {metric_name(g)} of the untrained circuit: " \
                          f"{view.held_out_error}"
    elif view.held_out is not None:
        g.eval0 = view.held_out
        if not g.evals:
            g.evals = [(0, g.eval0)]
        if not math.isfinite(g.eval0):
            g.eval0_problem = (f"The held-out {metric_name(g)} of this circuit is not finite: the flow overflows. "
                               "Shorten the slices, use fewer of them, or pick another device kind.")


def _invalidate(g: GeneratePage, circuit: bool) -> None:
    """Drop the trainer (and the circuit): the next run rebuilds them and training restarts."""
    g.had_steps = g.run.stop()
    if circuit:
        g.circuit, g.settings = None, replace(g.settings, pretrained=False)


# --- callbacks (run before the script, so the page draws the new state) ---------------------------------

def set_task(g: GeneratePage, task: str) -> None:
    g.settings = replace(g.settings, task=task).with_preset()
    _invalidate(g, circuit=True)


def set_target(g: GeneratePage, attr: str, value: str) -> None:
    g.settings = replace(g.settings, **{attr: value}).with_preset()
    _invalidate(g, circuit=True)


def set_circuit(g: GeneratePage, attr: str, value) -> None:
    new = replace(g.settings, **{attr: REPEATS[value] if attr == "repeats" else value}, pretrained=False)
    try:
        circuit = new.circuit()
    except (ValueError, TypeError) as e:
        g.messages.error(f"{attr.replace('_', ' ').capitalize()}: {e}")
        return
    _invalidate(g, circuit=True)
    g.settings, g.circuit = new, circuit


def _accept(g: GeneratePage, **changes) -> bool:
    """Take the changed settings when they make a valid training configuration, else show why."""
    new = replace(g.settings, **changes)
    try:
        new.train_config()
    except ValueError as e:
        g.messages.error(str(e))
        return False
    g.settings = new
    return True


def set_run(g: GeneratePage, attr: str, value) -> None:
    """Batch size or seed: a new trainer (the seed also re-draws a fresh circuit's initial parameters)."""
    if _accept(g, **{attr: int(value)}):
        _invalidate(g, circuit=attr == "seed" and not g.settings.pretrained)


def set_lr(g: GeneratePage, value: float) -> None:
    if _accept(g, lr=float(value)):
        g.run.set_lr(g.settings.lr)  # no restart: the run continues at the new rate


def set_tol(g: GeneratePage, value: float) -> None:
    g.settings = replace(g.settings, tol=float(value))
    if g.run.active:
        try:
            g.run.call(lv.set_solver, g.settings.solver())  # takes effect at the next solve, no restart
        except (RuntimeError, TimeoutError) as e:
            g.messages.error(f"Solver tolerance: {e}")
            return
        g.run.changed()


def setup_advice(g: GeneratePage) -> list[guards.Advice]:
    """The guard rails' findings that apply to a flow's set-up: a learning rate that diverges."""
    try:
        found = guards.check_learning_rate(g.settings.train_config())
    except ValueError:
        return []
    return [found] if found is not None else []


def use_preset(g: GeneratePage) -> None:
    g.settings = g.settings.with_preset()
    _invalidate(g, circuit=True)


def load_pretrained(g: GeneratePage) -> None:
    s = g.settings
    try:
        circuit, training = files.read_pretrained(s.name)
    except ValueError as e:
        g.messages.error(str(e))
        return
    _invalidate(g, circuit=True)
    g.settings = files.settings_for(circuit, s)
    g.circuit, g.had_steps, g.auto_animate = circuit, 0, True
    g.messages.note(f"Loaded the pretrained circuit for {s.name}{files.describe(training)}. Reset returns to it; Play "
                    f"fine-tunes it (learning rate {g.settings.lr:g}: a fresh optimiser at a from-scratch rate would "
                    "knock a trained flow off its optimum).")


# --- the play controller's hooks ------------------------------------------------------------------------------

def player(g: GeneratePage) -> Player:
    def on_record(rec: StepRecord) -> None:
        if rec.test_loss is not None:
            g.evals.append((rec.step, rec.test_loss))
        if not math.isfinite(rec.train_loss):
            raise SolverError("the loss is not finite; lower the learning rate or press Reset")

    def after_step() -> None:  # a single step also refreshes the held-out metric, so every Step shows its effect
        try:
            hist = g.run.history
            rec = hist[-1] if hist else None
            if rec is not None and rec.test_loss is None:
                g.evals.append((rec.step, g.run.call(lv.evaluate)))
        except (*ERRORS, TimeoutError) as e:
            g.messages.error(f"Could not evaluate the held-out {metric_name(g)}: {e}")

    def after_reset() -> None:
        g.evals = [] if g.eval0 is None else [(0, g.eval0)]

    return Player("gen", "step", MAX_STEPS, budget_s=1.0, lr=lambda: g.settings.lr, messages=g.messages,
                  step_help="One optimiser step on a fresh batch", reset_help="Back to the circuit's initial parameters "
                  "(step 0)", on_record=on_record, after_step=after_step, after_reset=after_reset)


# --- what the page draws from the model ---------------------------------------------------------------------

def animation_data(g: GeneratePage, box: float) -> dict:
    """The flow animation's data for the current model (a few seconds: one solve per frame, in the worker)."""
    return g.run.call(lv.flow_animation, box, ANIM_RES, ANIM_FRAMES, N_FLOW_POINTS, FIELD_RES)


def view(g: GeneratePage) -> lv.FlowView | None:
    """The run's latest drawing."""
    drawing = g.run.snapshot().drawing if g.run.active else None
    return drawing if isinstance(drawing, lv.FlowView) else None


def density_at_t(g: GeneratePage) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The latest drawing's model density (for the vector field's background), if there is one."""
    v = view(g)
    if v is None or v.logp is None:
        return None
    return v.xs, v.ys, np.exp(np.clip(v.logp, -700, 700))
