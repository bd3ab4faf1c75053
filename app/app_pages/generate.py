"""Generate page: a circuit as a continuous normalising flow, trained live.

Two tasks: "Generate (flow)" fits a 2-D data set by maximum likelihood (the circuit carries
Gaussian noise at t = 0 to the data at T), "Match a density" fits exp(-U) of a Rezende-Mohamed
potential by reverse KL. The page only wires widgets to ``kirchhoff_core.generative`` (flow,
trainer, presets) and ``kirchhoff_core.flow_analysis`` (densities, frames, vector fields on a grid);
``views.generate_views`` draws. As on the Train page, buttons flip state and a timed fragment does
a few optimiser steps per tick and redraws only the live charts. Its state lives in
``st.session_state[PAGE_KEY]``, apart from the Train page's ``Session``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import streamlit as st
import torch

from kirchhoff_core import flow_analysis as fa
from kirchhoff_core import io as kio
from kirchhoff_core.circuit import Circuit
from kirchhoff_core.densities import POTENTIALS, TARGETS, grid_points, sample_target
from kirchhoff_core.devices import KINDS, display_name
from kirchhoff_core.generative import (CircuitFlow, GenerativeConfig, GenerativeTrainer, flow_preset,
                                       gaussian_baseline_nll, load_pretrained)
from kirchhoff_core.solvers import SolverConfig, SolverError
from kirchhoff_core.target_density import target_entropy
from views import generate_views as gv

PAGE_KEY = "generate_page"
TICK_S = 0.5  # the live fragment reruns this often while playing
TICK_BUDGET_S = 1.0  # steps per tick stop once the next one would end after this
SNAPSHOT_EVERY_S = 3.0  # while playing, the density panels refresh at most this often (they cost ~ 3 steps)
MAX_STEPS = 3000  # playing pauses here so a forgotten tab does not train forever
GRID_RES = 40  # model / target density grid
ANIM_RES = 32  # density grid of each animation frame
ANIM_FRAMES = 16
FIELD_RES = 15  # arrows per side
N_SAMPLES = 800  # model samples in the overview
N_FLOW_POINTS = 500  # moving samples in the animation
EVAL_SIZE = 1000  # held-out points (or noise draws) for the held-out metric
EVAL_EVERY = 10
REPEATS = {"[25, 25]": (25, 25), "[10, 10]": (10, 10), "[5, 5]": (5, 5)}
TASK_LABELS = {"generate": "Generate (flow)", "density": "Match a density"}
TOLS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]
ERRORS = (SolverError, ValueError, RuntimeError)
# Learning rate after loading a pretrained circuit. A fresh Adam's first steps move every parameter by
# about the rate; at 5e-4 one step took the shipped circles flow from 0.89 to 1.06 nats, at 1e-4 it holds.
FINE_TUNE_LR = 1e-4


@dataclass(frozen=True)
class Settings:
    """What the controls set: task and target, the circuit, and the run's hyperparameters."""

    task: str = "generate"
    target: str = "moons"
    potential: str = "U1"
    repeats: tuple[int, int] = (25, 25)
    num_slices: int = 2
    duration: float = 0.5
    kind: str = "ShiftTanh2"
    lr: float = 5e-3
    batch_size: int = 256
    tol: float = 1e-3
    seed: int = 0

    @property
    def name(self) -> str:
        """The target of the current task (a data set or a potential)."""
        return self.target if self.task == "generate" else self.potential

    def with_preset(self) -> "Settings":
        """The paper's circuit for the current target (devices per pair, slices, duration, kind) and the
        core preset's learning rate for it."""
        p = flow_preset(self.name)
        return replace(self, repeats=tuple(p.repeats), num_slices=p.num_slices, duration=p.duration, kind=p.kind,
                       lr=p.lr)

    def circuit(self) -> Circuit:
        return flow_preset(self.name).circuit(seed=self.seed, repeats=list(self.repeats), num_slices=self.num_slices,
                                              duration=self.duration, kind=self.kind)

    def solver(self) -> SolverConfig:
        # Tight work caps: an untrained or exploding flow stops with a message instead of hanging a tick.
        return SolverConfig(method="dopri5", rtol=self.tol, atol=self.tol, max_nfe=5_000, timeout_s=15.0)

    def train_config(self) -> GenerativeConfig:
        return GenerativeConfig(task=self.task, target=self.name, lr=self.lr, batch_size=self.batch_size,
                                seed=self.seed, eval_size=EVAL_SIZE, eval_every=EVAL_EVERY)


def _page() -> dict:
    """Generate-page state of this browser session (settings, circuit, trainer, caches, messages)."""
    if PAGE_KEY not in st.session_state:
        st.session_state[PAGE_KEY] = {
            "settings": Settings().with_preset(), "circuit": None, "source": None, "trainer": None,
            "playing": False, "errors": [], "notes": [], "model_version": 0, "evals": [], "eval0": None,
            "snapshot": None, "snapshot_at": 0.0, "animation": None, "auto_animate": False, "want_animation": False,
            "had_steps": 0,
        }
    return st.session_state[PAGE_KEY]


page = _page()


# --- derived objects: settings -> circuit -> flow + trainer -----------------------------------------

def ensure_trainer() -> None:
    """(Re)build the circuit and the trainer when a control invalidated them."""
    s: Settings = page["settings"]
    if page["circuit"] is None:
        try:
            page["circuit"] = s.circuit()
            page["source"] = None
        except ValueError as e:
            page["errors"].append(f"Circuit: {e}; back to the paper's circuit for {s.name}.")
            page["settings"] = s = s.with_preset()
            page["circuit"] = s.circuit()
    if page["trainer"] is not None:
        return
    page["snapshot"], page["animation"] = None, None
    page["model_version"] += 1
    try:
        flow = CircuitFlow(page["circuit"], s.solver())
        trainer = GenerativeTrainer(flow, s.train_config())
    except ERRORS as e:
        page["errors"].append(f"This set-up cannot be trained: {e}")
        page["playing"] = False
        return
    page["trainer"] = trainer
    page["evals"], page["eval0"] = [], None
    try:
        page["eval0"] = trainer.evaluate()
        page["evals"] = [(0, page["eval0"])]
        if not math.isfinite(page["eval0"]):
            page["errors"].append(f"The held-out {_metric_name()} of this circuit is not finite: the flow "
                                  "overflows. Shorten the slices, use fewer of them, or pick another device kind.")
    except ERRORS as e:
        page["errors"].append(f"Could not evaluate the held-out {_metric_name()} of the untrained circuit: {e}")
    if page["had_steps"]:
        page["notes"].append(f"The set-up changed, so training restarted from step 0 (it was at step "
                             f"{page['had_steps']}).")
        page["had_steps"] = 0


def _invalidate(circuit: bool) -> None:
    """Drop the trainer (and the circuit): the next run rebuilds them and training restarts."""
    t = page["trainer"]
    page["had_steps"] = t.steps_done if t is not None else 0
    page["trainer"] = None
    page["playing"] = False
    if circuit:
        page["circuit"], page["source"] = None, None


def _metric_name() -> str:
    return "NLL" if page["settings"].task == "generate" else "KL"


# --- callbacks (run before the script, so the page draws the new state) ------------------------------

def _set_task(key: str) -> None:
    page["settings"] = replace(page["settings"], task=st.session_state[key]).with_preset()
    _invalidate(circuit=True)


def _set_target(attr: str, key: str) -> None:
    page["settings"] = replace(page["settings"], **{attr: st.session_state[key]}).with_preset()
    _invalidate(circuit=True)


def _set_circuit(attr: str, key: str) -> None:
    value = st.session_state[key]
    if attr == "repeats":
        value = REPEATS[value]
    new = replace(page["settings"], **{attr: value})
    try:
        circuit = new.circuit()
    except (ValueError, TypeError) as e:
        page["errors"].append(f"{attr.replace('_', ' ').capitalize()}: {e}")
        return
    _invalidate(circuit=True)
    page["settings"], page["circuit"] = new, circuit


def _accept(**changes) -> bool:
    """Take the changed settings when they make a valid training configuration, else show why."""
    new = replace(page["settings"], **changes)
    try:
        new.train_config()
    except ValueError as e:
        page["errors"].append(str(e))
        return False
    page["settings"] = new
    return True


def _set_run(attr: str, key: str) -> None:
    """Batch size or seed: a new trainer (the seed also re-draws the circuit's initial parameters)."""
    if _accept(**{attr: int(st.session_state[key])}):
        _invalidate(circuit=attr == "seed" and page["source"] is None)


def _set_lr(key: str) -> None:
    if _accept(lr=float(st.session_state[key])) and page["trainer"] is not None:
        page["trainer"].set_lr(page["settings"].lr)  # no restart: the run continues at the new rate


def _set_tol(key: str) -> None:
    new = replace(page["settings"], tol=float(st.session_state[key]))
    page["settings"] = new
    if page["trainer"] is not None:
        page["trainer"].flow.solver = new.solver()  # takes effect at the next solve, no restart
        page["snapshot"] = None


def _use_preset() -> None:
    page["settings"] = page["settings"].with_preset()
    _invalidate(circuit=True)


def _repeats_of(c: Circuit) -> tuple[int, int] | None:
    """[r, r] of a fully connected 2-node + ground circuit (E = 6 (r0 + r1)), if it is one of ours."""
    per = c.slices[0].num_devices / 6
    return next((r for r in REPEATS.values() if sum(r) == per), None)


def _load_pretrained() -> None:
    s: Settings = page["settings"]
    try:
        circuit, training, path = load_pretrained(s.name)
    except FileNotFoundError:
        page["errors"].append(
            f"No pretrained circuit ships for {s.name} yet (there is no assets/generative/{s.name}.json). "
            "Press Play to train one here.")
        return
    except ValueError as e:
        page["errors"].append(f"The pretrained circuit for {s.name} could not be used ({e}).")
        return
    _invalidate(circuit=True)
    kinds = sorted({k for sl in circuit.slices for k in sl.kind.tolist()})
    page["settings"] = replace(s, num_slices=len(circuit.slices), duration=float(circuit.durations[0]),
                               kind=kinds[0] if len(kinds) == 1 else s.kind,
                               repeats=_repeats_of(circuit) or s.repeats, lr=min(s.lr, FINE_TUNE_LR))
    page["circuit"], page["source"] = circuit, path.name
    page["had_steps"] = 0
    page["auto_animate"] = True
    nll, eval_size = training.result.get("nll"), (training.config or {}).get("eval_size")
    on = f" on {eval_size:,} samples" if isinstance(eval_size, int) else ""
    what = [f"{training.steps:,} steps" if training.steps else None,
            f"held-out NLL {nll:.3f}{on}" if isinstance(nll, (int, float)) else None]
    detail = ", ".join(w for w in what if w)
    page["notes"].append(f"Loaded the pretrained circuit for {s.name}" + (f" ({detail})" if detail else "") +
                         f". Reset returns to it; Play fine-tunes it (learning rate {page['settings'].lr:g}: a fresh "
                         "optimiser at a from-scratch rate would knock a trained flow off its optimum).")


def _want_animation() -> None:
    page["want_animation"] = True


def _toggle_play() -> None:
    page["playing"] = not page["playing"] and page["trainer"] is not None


def _train(budget_s: float) -> None:
    """Run optimiser steps until the next one would overrun ``budget_s`` (at least one); errors pause."""
    trainer: GenerativeTrainer = page["trainer"]
    start = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            rec = trainer.step()
            page["model_version"] += 1
            if rec.test_loss is not None:
                page["evals"].append((rec.step, rec.test_loss))
            now = time.perf_counter()
            if not math.isfinite(rec.train_loss):
                raise SolverError("the loss is not finite; lower the learning rate or press Reset")
            if now - start + (now - t0) > budget_s or trainer.steps_done >= MAX_STEPS:
                break
    except ERRORS as e:
        page["model_version"] += 1  # the failing step may have changed some parameters
        page["playing"] = False
        page["errors"].append(f"Training paused at step {trainer.steps_done}: {e}")
    if trainer.steps_done >= MAX_STEPS and page["playing"]:
        page["playing"] = False
        page["notes"].append(f"Paused after {MAX_STEPS} steps.")


def _step_once() -> None:
    if page["trainer"] is not None:
        _train(0.0)
        try:  # a single step also refreshes the held-out metric, so every Step shows its effect
            rec = page["trainer"].history[-1] if page["trainer"].history else None
            if rec is not None and rec.test_loss is None:
                page["evals"].append((rec.step, page["trainer"].evaluate()))
        except ERRORS as e:
            page["errors"].append(f"Could not evaluate the held-out {_metric_name()}: {e}")


def _reset() -> None:
    page["playing"] = False
    t = page["trainer"]
    if t is not None:
        t.reset()
        t.set_lr(page["settings"].lr)
        page["model_version"] += 1
        page["evals"] = [] if page["eval0"] is None else [(0, page["eval0"])]


def _bind(key: str, value) -> None:
    """Show ``value`` in the widget ``key`` (the page state is the source of truth)."""
    if st.session_state.get(key, object()) != value:
        st.session_state[key] = value


# --- cached pure computations -------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=32)
def _box(task: str, name: str) -> float:
    return fa.plot_box(task, name)


@st.cache_data(show_spinner=False, max_entries=32)
def _target(task: str, name: str, resolution: int, box: float):
    xs, ys, p = fa.target_density_grid(task, name, resolution, box)
    samples = sample_target(name, N_SAMPLES, 1) if task == "generate" else None
    return xs, ys, p, samples


def _snapshot(trainer: GenerativeTrainer, box: float, force: bool):
    """Model log-density on the grid and model samples, cached per model version; while playing it
    is refreshed at most every SNAPSHOT_EVERY_S (unless ``force``)."""
    key = (id(trainer), page["model_version"])
    cached = page["snapshot"]
    if cached is None or not (cached[0] == key or (not force and time.perf_counter() - page["snapshot_at"]
                                                   < SNAPSHOT_EVERY_S)):
        flow = trainer.flow
        try:
            xs, ys, logp = fa.log_density_grid(flow, GRID_RES, box)
            with torch.no_grad():
                samples = flow.sample(N_SAMPLES, seed=0).double().cpu().numpy()
            result = (xs, ys, logp, samples, trainer.steps_done)
        except ERRORS as e:  # remembered too, so a failing model is not re-solved on every rerun
            result = e
        cached = page["snapshot"] = (key, result)
        page["snapshot_at"] = time.perf_counter()
    if isinstance(cached[1], Exception):
        raise cached[1]
    return cached[1]


def _animation(trainer: GenerativeTrainer, box: float):
    """The flow animation's figure for the current model (a few seconds: one solve per frame)."""
    flow = trainer.flow
    ts = fa.frame_times(flow, ANIM_FRAMES)
    logp = fa.density_frames(flow, ts, ANIM_RES, box)
    pts, _ = fa.flow_frames(flow, ts, N_FLOW_POINTS, seed=0)
    slices = [fa.slice_at(flow, t) for t in ts]
    fields = {i: fa.vector_field(flow, i, FIELD_RES, box) for i in sorted(set(slices))}
    xs, ys, _ = grid_points(ANIM_RES, box)
    return gv.flow_animation_figure(xs, ys, ts, logp, pts, box, slices, fields)


# --- the page -----------------------------------------------------------------------------------------

ensure_trainer()
s: Settings = page["settings"]
trainer: GenerativeTrainer | None = page["trainer"]
metric_name = _metric_name()

st.header("Generate")
st.caption("A circuit as a generative model: Gaussian noise goes in as the initial voltages of two nodes, and "
           "the transient carries it to the data by time T. Kirchhoff's current law makes the change of "
           "volume cheap to follow (the trace of the Jacobian is a sum over devices), so the exact "
           "likelihood of every point is known and training maximises it.")
for msg in page["errors"]:
    st.error(msg)
for msg in page["notes"]:
    st.info(msg)
page["errors"], page["notes"] = [], []

top = st.columns([1.2, 3, 1.1, 1.1], vertical_alignment="bottom")
_bind("gen_task", s.task)
top[0].radio("Task", list(TASK_LABELS), key="gen_task", format_func=TASK_LABELS.get, on_change=_set_task,
             args=("gen_task",), help="Generate: fit samples of a data set by maximum likelihood. Match a "
             "density: fit exp(-U) of a potential by reverse KL, from noise alone.")
if s.task == "generate":
    _bind("gen_target", s.target)
    top[1].radio("Target data set", list(TARGETS), key="gen_target", horizontal=True, on_change=_set_target,
                 args=("target", "gen_target"))
else:
    _bind("gen_potential", s.potential)
    top[1].radio("Target potential", list(POTENTIALS), key="gen_potential", horizontal=True,
                 on_change=_set_target, args=("potential", "gen_potential"),
                 help="The Rezende-Mohamed potentials: U1 a ring with two lobes, U2 a sine, U3 a split sine, "
                      "U4 a sine with a step")
top[2].button("Load pretrained", key="gen_pretrained", on_click=_load_pretrained,
              icon=":material/download:", width="stretch",
              help=f"Load the circuit trained for {s.name} that ships with the playground (assets/generative/)")
top[3].button("Paper's circuit", key="gen_preset", on_click=_use_preset, icon=":material/restart_alt:",
              width="stretch", help=f"The reference circuit for {s.name}: devices per pair, slices, duration, kind")

bar = st.columns([1, 1, 1, 5], vertical_alignment="center")
playing = page["playing"]
bar[0].button("Pause" if playing else "Play", key="gen_play", on_click=_toggle_play,
              icon=":material/pause:" if playing else ":material/play_arrow:", disabled=trainer is None,
              type="primary", width="stretch")
bar[1].button("Step", key="gen_step", on_click=_step_once, icon=":material/skip_next:",
              disabled=trainer is None or playing, help="One optimiser step on a fresh batch", width="stretch")
bar[2].button("Reset", key="gen_reset", on_click=_reset, icon=":material/replay:", disabled=trainer is None,
              help="Back to the circuit's initial parameters (step 0)", width="stretch")
c = page["circuit"]
source = f"pretrained ({page['source']})" if page["source"] else "fully connected, 2 nodes + ground"
bar[3].caption(f"{source} · {c.num_devices} devices · {c.num_parameters} parameters · "
               f"{len(c.slices)} slice(s) · T = {c.t_end:g}")

hp = st.columns([1.3, 0.8, 1, 1.7, 1.15, 0.9, 1.3, 0.8])
rep_label = next((k for k, v in REPEATS.items() if v == tuple(s.repeats)), None)
_bind("gen_repeats", rep_label)
hp[0].selectbox("Devices per pair", list(REPEATS), key="gen_repeats", on_change=_set_circuit,
                args=("repeats", "gen_repeats"), placeholder="custom",
                help="[r0, r1]: r0 devices i→j and r1 devices j→i between every pair of nodes (ground "
                     "included). The paper used [25, 25] (300 devices per slice) and [10, 10] (120).")
_bind("gen_slices", int(s.num_slices))
hp[1].number_input("Slices", 1, 32, key="gen_slices", on_change=_set_circuit, args=("num_slices", "gen_slices"),
                   help="Time slices (layers), each with its own devices")
_bind("gen_duration", float(s.duration))
hp[2].number_input("Slice duration", 0.05, 5.0, step=0.05, key="gen_duration", format="%g",
                   on_change=_set_circuit, args=("duration", "gen_duration"))
_bind("gen_kind", s.kind)
hp[3].selectbox("Device kind", list(KINDS), key="gen_kind", on_change=_set_circuit, args=("kind", "gen_kind"),
                format_func=display_name)
_bind("gen_lr", float(s.lr))
hp[4].number_input("Learning rate", 1e-5, 1.0, step=0.005, key="gen_lr", format="%g", on_change=_set_lr,
                   args=("gen_lr",), help="Takes effect at once, without a restart")
_bind("gen_bs", int(s.batch_size))
hp[5].number_input("Batch size", 1, 4096, step=64, key="gen_bs", on_change=_set_run, args=("batch_size", "gen_bs"),
                   help="Fresh samples (or noise draws) per step")
tols = sorted(set(TOLS) | {float(s.tol)}, reverse=True)
_bind("gen_tol", float(s.tol))
hp[6].select_slider("Solver tolerance", tols, key="gen_tol", format_func=lambda v: f"{v:g}", on_change=_set_tol,
                    args=("gen_tol",), help="dopri5 rtol = atol; takes effect at once (the paper: 1e-4)")
_bind("gen_seed", int(s.seed))
hp[7].number_input("Seed", 0, 2**31 - 1, key="gen_seed", on_change=_set_run, args=("seed", "gen_seed"),
                   help="Initial parameters, batches and the held-out set")
st.caption("Changing the circuit, batch size or seed restarts training at step 0; the learning rate and the "
           "tolerance apply at once.")


# --- live: metrics, densities side by side, curves ------------------------------------------------------

def _draw_live() -> None:
    trainer = page["trainer"]
    if trainer is None:
        return
    s = page["settings"]
    hist = trainer.history
    last = hist[-1] if hist else None
    prev = hist[-2] if len(hist) > 1 else None
    evals = page["evals"]
    m = st.columns(5)
    metric_name = _metric_name()
    m[0].metric("Step", trainer.steps_done)
    if last is None:
        m[1].metric(f"Batch {metric_name}", "—")
    else:
        m[1].metric(f"Batch {metric_name}", f"{last.train_loss:.4f}",
                    delta=None if prev is None else f"{last.train_loss - prev.train_loss:+.4f}", delta_color="inverse")
    m[2].metric(f"Held-out {metric_name}", f"{evals[-1][1]:.4f}" if evals else "—",
                help=f"On {EVAL_SIZE} fixed {'held-out samples' if s.task == 'generate' else 'noise draws'}, "
                     f"every {EVAL_EVERY} steps" + (f" (last at step {evals[-1][0]})" if evals else ""))
    preset = flow_preset(s.name)
    if s.task == "generate" and preset.reference_nll is not None:
        m[3].metric("Paper's final NLL", f"{preset.reference_nll:.3f}",
                    help=f"Training NLL of the released run ({preset.reference_steps:,} steps, "
                         f"{preset.source}). The lowest NLL any model can reach on fresh samples is this "
                         f"target's entropy, {target_entropy(s.name):.3f} nats (the red line below).")
    elif s.task == "generate":
        m[3].metric("Paper's final NLL", "—", help="The reference released no number for this target. The lowest "
                    f"NLL any model can reach on fresh samples is its entropy, {target_entropy(s.name):.3f} nats.")
    else:
        m[3].metric("log Z", f"{trainer.log_z:.3f}",
                    help=f"log of the normaliser of exp(−{s.name}) on the [−4, 4]² box; the KL estimate includes "
                         "it, so a perfect fit scores 0")
    m[4].metric("NFE/step", f"{last.nfe_forward + last.nfe_backward}" if last else "—",
                help="Right-hand-side evaluations of the last step, forward and backward")

    box = _box(s.task, s.name)
    txs, tys, target_p, target_samples = _target(s.task, s.name, GRID_RES, box)
    try:
        xs, ys, logp, samples, at_step = _snapshot(trainer, box, force=not page["playing"])
    except ERRORS as e:
        st.error(f"Could not evaluate the model's density: {e}")
    else:
        titles = ("target density" if s.task == "generate" else f"target exp(−{s.name}) / Z",
                  f"model density at step {at_step}", "samples")
        st.plotly_chart(gv.overview_figure(xs, ys, target_p, logp, samples, box, target_samples, titles),
                        key="gen_overview", width="stretch")
    if hist:
        steps = np.array([r.step for r in hist])
        train = np.array([r.train_loss for r in hist])
        ev = np.array(evals, dtype=float).reshape(-1, 2)
        baseline = gaussian_baseline_nll(trainer.x_test) if s.task == "generate" else None
        ref = preset.reference_nll if s.task == "generate" else None
        floor = target_entropy(s.name) if s.task == "generate" else None
        st.plotly_chart(gv.curves_figure(steps, train, ev[:, 0], ev[:, 1], trainer.metric, ref, baseline, floor),
                        key="gen_curves", width="stretch")
    else:
        st.caption(f"Press Play or Step to train; the batch and held-out {metric_name} appear here.")
    if last is not None and last.rejected_steps > 0.2 * max(last.nfe_forward, 1):
        st.warning("The solver rejects many steps: the flow is getting stiff. Lower the learning rate or "
                   "loosen the tolerance.")


@st.fragment(run_every=TICK_S if playing else None)
def live() -> None:
    # Draw first, then train: the charts stay fresh while the steps run, the next tick shows them.
    _draw_live()
    if page["playing"] and page["trainer"] is not None:
        _train(TICK_BUDGET_S)
        if not page["playing"]:  # paused by an error or the step limit: redraw the buttons too
            st.rerun()


live()


# --- the flow animation and the vector field --------------------------------------------------------------

st.divider()
st.subheader("The flow")
trainer = page["trainer"]
if trainer is not None:
    box = _box(s.task, s.name)
    key = (id(trainer), page["model_version"])
    col_anim, col_field = st.columns([1.6, 1], gap="medium")
    with col_anim:
        if (page["auto_animate"] or page["want_animation"]) and not page["playing"]:
            page["auto_animate"] = page["want_animation"] = False
            try:
                with st.spinner("Integrating the flow frame by frame…"):
                    page["animation"] = (key, _animation(trainer, box), trainer.steps_done)
            except ERRORS as e:
                st.error(f"Could not animate the flow: {e}")
        anim = page["animation"]
        stale = anim is None or anim[0] != key
        label = "Animate the flow" if anim is None else f"Update the animation (step {trainer.steps_done})"
        st.button(label, key="gen_animate", icon=":material/animation:", on_click=_want_animation,
                  disabled=page["playing"] or not stale,
                  help=f"Carry {N_FLOW_POINTS} Gaussian samples through the circuit and compute the density at "
                       f"{ANIM_FRAMES} times (a few seconds)")
        if anim is not None:
            st.caption(f"Samples (orange) flow from N(0, I) at t = 0 to the model at T = {trainer.flow.t_end:g}; "
                       "underneath, the density p_t morphs; the arrows are dv/dt of the slice running at that "
                       f"moment. Press Play under the plot. Made at step {anim[2]}"
                       + ("" if anim[0] == key else " (the model has changed since)") + ".")
            st.plotly_chart(anim[1], key="gen_animation", width="stretch")
        else:
            st.caption("Press **Animate the flow** to watch samples travel from the Gaussian to the model, "
                       "with the density morphing underneath.")
    with col_field:
        n_slices = len(trainer.flow.net.slices)
        if n_slices > 1:
            if st.session_state.get("gen_field_slice") not in range(1, n_slices + 1):
                st.session_state["gen_field_slice"] = 1  # the circuit has fewer slices than before
            k = st.select_slider("Slice", list(range(1, n_slices + 1)), key="gen_field_slice")
        else:
            k = 1
        try:
            fxs, fys, u, v = fa.vector_field(trainer.flow, k - 1, 21, box)
            snap = page["snapshot"]
            density = None if snap is None or isinstance(snap[1], Exception) else \
                (snap[1][0], snap[1][1], np.exp(np.clip(snap[1][2], -700, 700)))
            t0, t1 = trainer.flow.boundaries[k - 1], trainer.flow.boundaries[k]
            st.plotly_chart(gv.vector_field_figure(fxs, fys, u, v, box, f"dv/dt of slice {k} (t = {t0:g} to {t1:g})",
                                                   density), key="gen_field", width="stretch")
            st.caption("Within a slice the circuit is autonomous, so this field moves every sample while the "
                       "slice runs; the background is the model's density at T.")
        except ERRORS as e:
            st.error(f"Could not evaluate the vector field: {e}")


# --- save -----------------------------------------------------------------------------------------------

def _model_json() -> str:
    """The trained circuit plus the run's training record (what "Load pretrained" reads back)."""
    t = page["trainer"]
    circuit = t.flow.to_circuit() if t is not None else page["circuit"]
    fields = dict(task=s.task, target=s.name, extra={"settings": asdict(s)})
    if t is not None and page["evals"]:  # the held-out metric shown last (Step evaluates it too)
        fields["result"] = {t.metric: page["evals"][-1][1], "step": page["evals"][-1][0]}
    return kio.dumps_circuit(circuit, training=kio.TrainingRecord.of(t, **fields))


st.divider()
save = st.columns([1, 3], vertical_alignment="center")
save[0].download_button("Download the circuit (JSON)", data=_model_json, file_name=f"kirchhoffnet-flow-{s.name}.json",
                        mime="application/json", on_click="ignore", key="gen_download")
save[1].caption("The circuit with its current parameters and the run's history. Saved as "
                f"assets/generative/{s.name}.json it becomes the pretrained circuit for {s.name}.")
