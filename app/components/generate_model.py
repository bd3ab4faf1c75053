"""Generate page model: settings -> flow circuit -> trainer, the callbacks that change them, and the
play controller's hooks. Everything lives in ``session.generate`` (a ``state.GeneratePage``); the
numbers come from ``kirchhoff_core.generative`` and ``kirchhoff_core.flow_analysis``."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import torch

from components import generate_files as files
from kirchhoff_core import flow_analysis as fa
from kirchhoff_core.densities import grid_points
from kirchhoff_core.generative import CircuitFlow, GenerativeTrainer
from kirchhoff_core.live import StepRecord
from kirchhoff_core.solvers import SolverError
from live import ERRORS, Player
from state import GeneratePage

MAX_STEPS = 3000  # playing pauses here so a forgotten tab does not train forever
REPEATS = {"[25, 25]": (25, 25), "[10, 10]": (10, 10), "[5, 5]": (5, 5)}
SNAPSHOT_EVERY_S = 3.0  # while playing, the density panels refresh at most this often (they cost ~ 3 steps)
GRID_RES = 40  # model / target density grid
N_SAMPLES = 800  # model samples in the overview
ANIM_RES, ANIM_FRAMES, FIELD_RES, N_FLOW_POINTS = 32, 16, 15, 500  # the flow animation


def metric_name(g: GeneratePage) -> str:
    return "NLL" if g.settings.task == "generate" else "KL"


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
    if g.run.trainer is not None:
        return
    s = g.settings
    g.snapshot, g.animation = None, None
    g.run.version += 1
    try:
        trainer = GenerativeTrainer(CircuitFlow(g.circuit, s.solver()), s.train_config())
    except ERRORS as e:
        g.messages.error(f"This set-up cannot be trained: {e}")
        g.run.playing = False
        return
    g.run.replace(trainer)
    g.evals, g.eval0 = [], None
    try:
        g.eval0 = trainer.evaluate()
        g.evals = [(0, g.eval0)]
        if not math.isfinite(g.eval0):
            g.messages.error(f"The held-out {metric_name(g)} of this circuit is not finite: the flow overflows. "
                             "Shorten the slices, use fewer of them, or pick another device kind.")
    except ERRORS as e:
        g.messages.error(f"Could not evaluate the held-out {metric_name(g)} of the untrained circuit: {e}")
    if g.had_steps:
        g.messages.note(f"The set-up changed, so training restarted from step 0 (it was at step {g.had_steps}).")
        g.had_steps = 0


def _invalidate(g: GeneratePage, circuit: bool) -> None:
    """Drop the trainer (and the circuit): the next run rebuilds them and training restarts."""
    t = g.run.trainer
    g.had_steps = t.steps_done if t is not None else 0
    g.run.trainer, g.run.playing = None, False
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
    if _accept(g, lr=float(value)) and g.run.trainer is not None:
        g.run.trainer.set_lr(g.settings.lr)  # no restart: the run continues at the new rate


def set_tol(g: GeneratePage, value: float) -> None:
    g.settings = replace(g.settings, tol=float(value))
    if g.run.trainer is not None:
        g.run.trainer.flow.solver = g.settings.solver()  # takes effect at the next solve, no restart
        g.snapshot = None


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
            rec = g.run.trainer.history[-1] if g.run.trainer.history else None
            if rec is not None and rec.test_loss is None:
                g.evals.append((rec.step, g.run.trainer.evaluate()))
        except ERRORS as e:
            g.messages.error(f"Could not evaluate the held-out {metric_name(g)}: {e}")

    def after_reset() -> None:
        g.evals = [] if g.eval0 is None else [(0, g.eval0)]

    return Player("gen", "step", MAX_STEPS, budget_s=1.0, lr=lambda: g.settings.lr, messages=g.messages,
                  step_help="One optimiser step on a fresh batch", reset_help="Back to the circuit's initial parameters "
                  "(step 0)", on_record=on_record, after_step=after_step, after_reset=after_reset)


# --- what the page draws from the model ---------------------------------------------------------------------

def snapshot(g: GeneratePage, box: float, force: bool):
    """Model log-density on the grid and model samples, cached per model version; while playing it
    is refreshed at most every SNAPSHOT_EVERY_S (unless ``force``)."""
    trainer = g.run.trainer
    key = (id(trainer), g.run.version)
    cached = g.snapshot
    if cached is None or not (cached[0] == key or (not force and time.perf_counter() - g.snapshot_at
                                                   < SNAPSHOT_EVERY_S)):
        flow = trainer.flow
        try:
            xs, ys, logp = fa.log_density_grid(flow, GRID_RES, box)
            with torch.no_grad():
                samples = flow.sample(N_SAMPLES, seed=0).double().cpu().numpy()
            result = (xs, ys, logp, samples, trainer.steps_done)
        except ERRORS as e:  # remembered too, so a failing model is not re-solved on every rerun
            result = e
        cached = g.snapshot = (key, result)
        g.snapshot_at = time.perf_counter()
    if isinstance(cached[1], Exception):
        raise cached[1]
    return cached[1]


def animation_data(trainer: GenerativeTrainer, box: float) -> dict:
    """The flow animation's data for the current model (a few seconds: one solve per frame)."""
    flow = trainer.flow
    ts = fa.frame_times(flow, ANIM_FRAMES)
    slices = [fa.slice_at(flow, t) for t in ts]
    xs, ys, _ = grid_points(ANIM_RES, box)
    return {"xs": xs, "ys": ys, "times": ts, "log_density": fa.density_frames(flow, ts, ANIM_RES, box),
            "points": fa.flow_frames(flow, ts, N_FLOW_POINTS, seed=0)[0], "box": box, "slice_of_frame": slices,
            "fields": {i: fa.vector_field(flow, i, FIELD_RES, box) for i in sorted(set(slices))}}


def density_at_t(g: GeneratePage) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The last snapshot's model density (for the vector field's background), if there is one."""
    snap = g.snapshot
    if snap is None or isinstance(snap[1], Exception):
        return None
    xs, ys, logp = snap[1][:3]
    return xs, ys, np.exp(np.clip(logp, -700, 700))
