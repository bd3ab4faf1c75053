"""Train page controls: hyperparameters and solver (a bar across the top, as in TensorFlow
Playground), the input and read-out nodes, and the fixes offered when the circuit does not fit the
data. Widgets are bound to the session's ``Config`` and circuit; each change goes through
``kirchhoff_core`` and is refused with a message when the core refuses it."""

from __future__ import annotations

from functools import partial

import streamlit as st

import state
from components import guard_rails
from kirchhoff_core import editing
from kirchhoff_core.devices import KINDS, display_name
from kirchhoff_core.generators import generate
from kirchhoff_core.presets import preset_for
from kirchhoff_core.solvers import ADAPTIVE, METHODS
from kirchhoff_core.train import OPTIMIZERS
from state import Session, bound

DEFAULT_KIND = "ShiftTanh2"
T_RANGE = (0.01, 1000.0)  # read-out time
LR_RANGE = (1e-5, 10.0)
TOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6)


# --- callbacks: run before the script, so the page always draws the new state ------------------------

def _validated(session: Session, attr: str, value) -> bool:
    config = session.config
    old = getattr(config, attr)
    setattr(config, attr, value)
    try:
        config.train_config()
        config.solver_config()
        return True
    except ValueError as e:
        setattr(config, attr, old)
        session.train.messages.error(str(e))
        return False


def setter(session: Session, attr: str):
    return lambda value: _validated(session, attr, value)


def set_lr(session: Session, value: float) -> None:
    _validated(session, "lr", float(value))
    session.train.run.set_lr(session.config.lr)  # no reset: the run continues at the new rate


def _remember(session: Session, **params) -> None:
    """Record a change in the generator arguments too, so the share link reproduces it."""
    config = session.config
    if session.circuit is None or session.circuit.meta.get("generator") != config.generator:
        return
    gp = dict(config.generator_params)
    for role in ("inputs", "outputs"):  # keep the generator's counts in step with explicit node lists
        if role in params and f"n_{role}" in gp:
            params[f"n_{role}"] = len(params[role])
    for k, v in params.items():
        if (k == "kind" and v == DEFAULT_KIND) or (k == "duration" and v == 1.0):
            gp.pop(k, None)
        else:
            gp[k] = v
    config.generator_params = gp


def set_roles(session: Session, inputs: list[int], outputs: list[int], label: str = "Input / read-out nodes: ") -> None:
    try:
        state.set_circuit(session, editing.set_roles(session.circuit, list(inputs), list(outputs)), keep_run=True)
        _remember(session, inputs=list(inputs), outputs=list(outputs))
    except ValueError as e:
        session.train.messages.error(f"{label}{e}")


def _use_preset(session: Session) -> None:
    config, data = session.config, session.data
    preset = preset_for(config.dataset, data.n_outputs if data is not None else None)
    try:
        state.set_circuit(session, generate(preset.generator, **preset.params), keep_run=True)
    except ValueError as e:
        session.train.messages.error(str(e))
        return
    config.generator, config.generator_params = preset.generator, dict(preset.params)
    config.lr, config.batch_size = preset.train.lr, preset.train.batch_size
    config.optimizer, config.weight_decay = preset.train.optimizer, preset.train.weight_decay
    config.method, config.tol, config.step_size = preset.solver.method, preset.solver.rtol, preset.solver.step_size


def _set_t_end(session: Session, value: float) -> None:
    t_end, c = float(value), session.circuit
    try:
        state.set_circuit(session, editing.set_durations(c, [d * t_end / c.t_end for d in c.durations]), keep_run=True)
        if len(set(c.durations)) == 1:
            _remember(session, duration=t_end / len(c.durations))
    except ValueError as e:
        session.train.messages.error(f"Read-out time: {e}")


def _set_kind(session: Session, kind: str) -> None:
    config = session.config
    params = {**config.generator_params, "kind": kind}
    if kind == DEFAULT_KIND:
        params.pop("kind")
    try:
        state.set_circuit(session, generate(config.generator, **params), keep_run=True)
    except (ValueError, TypeError) as e:
        session.train.messages.error(f"Device kind: could not regenerate the circuit with {kind} ({e})")
        return
    config.generator_params = params


# --- the controls --------------------------------------------------------------------------------------

def hyperparameters(session: Session) -> None:
    config, c = session.config, session.circuit
    kinds = set(k for s in c.slices for k in s.kind.tolist())
    kind_now = next(iter(kinds)) if len(kinds) == 1 else config.generator_params.get("kind", DEFAULT_KIND)
    hp, msgs = st.columns(6), session.train.messages
    guard_rails.number(hp[0], "Read-out time T", T_RANGE[0], T_RANGE[1], step=0.25, key="train_T",
                       value=float(c.t_end), on_set=partial(_set_t_end, session), messages=msgs, format="%g",
                       help="Total duration of the slices; scales each slice")
    bound(hp[1].selectbox, "Device kind", list(KINDS), key="train_kind", value=kind_now, on_set=partial(_set_kind, session),
          format_func=display_name, help="Regenerates the circuit from its generator with this I-V family")
    guard_rails.number(hp[2], "Learning rate", LR_RANGE[0], LR_RANGE[1], step=0.005, key="train_lr",
                       value=float(config.lr), on_set=partial(set_lr, session), messages=msgs, format="%g",
                       help="Takes effect at once, without a reset")
    bound(hp[3].selectbox, "Optimizer", list(OPTIMIZERS), key="train_opt", value=config.optimizer,
          on_set=setter(session, "optimizer"))
    guard_rails.number(hp[4], "Batch size", 0, 100_000, step=8, key="train_bs", value=int(config.batch_size),
                       on_set=setter(session, "batch_size"), messages=msgs, help="0 = full batch")
    guard_rails.number(hp[5], "Weight decay", 0.0, 10.0, step=1e-4, key="train_wd", value=float(config.weight_decay),
                       on_set=setter(session, "weight_decay"), messages=msgs, format="%g")


def setup_check(session: Session) -> None:
    """The guard rails' findings on the set-up (before and while training), each with its fix."""
    guard_rails.advice(state.setup_advice(session), {
        "read_out_time": partial(_set_t_end, session), "lr": partial(set_lr, session),
        "batch_size": lambda v: _validated(session, "batch_size", int(v))}, "train_guard")


def solver(session: Session) -> None:
    config = session.config
    sv = st.columns([1, 2, 1.5, 1.5], vertical_alignment="bottom")
    bound(sv[0].selectbox, "Solver", list(METHODS), key="train_method", value=config.method, on_set=setter(session, "method"))
    if config.method in ADAPTIVE:
        tols = sorted({*TOLS, float(config.tol)}, reverse=True)
        bound(sv[1].select_slider, "Tolerance (rtol = atol)", tols, key="train_tol", value=float(config.tol),
              on_set=setter(session, "tol"), format_func=lambda v: f"{v:g}")
    else:
        bound(sv[1].number_input, "Step size", 1e-4, 10.0, key="train_dt", value=config.step_size,
              on_set=setter(session, "step_size"), format="%g", placeholder="slice duration / 20",
              help="Empty: each slice's duration / 20")
    bound(sv[2].toggle, "Adjoint gradients", key="train_adjoint", value=bool(config.adjoint), on_set=setter(session, "adjoint"),
          help="Back-propagate by solving the adjoint ODE backwards: less memory, more solver work")


def roles(session: Session) -> None:
    c = session.circuit
    first, last = c.width(0), c.width(len(c.slices) - 1)
    bound(st.multiselect, "Input nodes", list(range(1, first + 1)), key="train_inputs", value=list(c.inputs),
          on_set=lambda v: set_roles(session, v, session.circuit.outputs),
          help="v(0) of these nodes is the input, in feature order")
    bound(st.multiselect, "Read-out nodes", list(range(1, last + 1)), key="train_outputs", value=list(c.outputs),
          on_set=lambda v: set_roles(session, session.circuit.inputs, v),
          help="v(T) of these nodes is the output, one per class or target, in order")


def mismatch_fixes(session: Session) -> None:
    """The reason the circuit does not fit the data, and one-click fixes."""
    data, c = session.data, session.circuit
    st.error(session.train.mismatch)
    if data is None:
        return
    d_in, d_out = data.n_features, data.n_outputs
    first, last = c.width(0), c.width(len(c.slices) - 1)
    fix_cols = st.columns(2)
    if d_in <= first and d_out <= last:
        ins, outs = list(range(1, d_in + 1)), list(range(last - d_out + 1, last + 1))
        fix_cols[0].button(f"Use nodes {ins} as inputs and {outs} as read-outs", key="train_fix_roles",
                           on_click=set_roles, args=(session, ins, outs, ""), width="stretch")
    else:
        fix_cols[0].caption(f"The circuit has too few nodes for {d_in} inputs and {d_out} read-outs.")
    fix_cols[1].button(f"Use the default circuit for {session.config.dataset}", key="train_fix_preset",
                       on_click=_use_preset, args=(session,), width="stretch")
