"""Train page: a TensorFlow-Playground-style live trainer for the session's circuit.

The page only wires widgets to the session (``state.Session``) and to ``kirchhoff_core``: datasets,
the Trainer, the analysis grids and the circuit editors do all the work, ``views.train_views``
draws. Buttons flip state (``session.playing``) and a timed fragment does a few epochs per tick and
redraws only the live charts.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from kirchhoff_core import accelerator, analysis, editing
from kirchhoff_core import io as kio
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import DATASETS, load_points_csv, make_dataset, points_to_dataset
from kirchhoff_core.devices import KINDS, display_name
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.presets import preset_for
from kirchhoff_core.solvers import ADAPTIVE, METHODS, SolverError
from kirchhoff_core.train import OPTIMIZERS, Trainer
from state import Config, config_to_query, get_session
from views import train_views as tv

PAGE_KEY = "train_page"
TICK_S = 0.5  # the live fragment reruns this often while playing
TICK_BUDGET_S = 0.8  # epochs per tick stop once the next one would end after this
GRID_RES = 40  # decision-boundary and node-thumbnail resolution
MAX_EPOCHS = 2000  # playing pauses here so a forgotten tab does not train forever
DEFAULT_KIND = "ShiftTanh2"
CANVAS = (-2.5, 2.5)  # drawing area; matches the +-2 span the built-in 2-D sets are scaled to
CUSTOM = "custom"

session = get_session()
config = session.config


def _page() -> dict:
    """Train-page bookkeeping of this browser session (messages, caches, widget versions)."""
    if PAGE_KEY not in st.session_state:
        st.session_state[PAGE_KEY] = {
            "errors": [], "notes": [], "sig": None, "mismatch": None, "data_key": None, "custom_problem": None,
            "custom_version": 0, "draw_version": 0, "editor_version": 0, "seen_uploads": set(),
            "model_version": 0, "snapshot": None,
        }
    return st.session_state[PAGE_KEY]


page = _page()


# --- derived objects: circuit -> data -> trainer --------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=64)
def _dataset(name: str, n_samples: int, noise: float | None, test_fraction: float, seed: int):
    return make_dataset(name, n_samples=n_samples, noise=noise, test_fraction=test_fraction, seed=seed)


def _fallback_circuit(reason: str) -> None:
    preset = preset_for(config.dataset if config.dataset in DATASETS else "moons")
    page["errors"].append(f"{reason}; using the default circuit for {config.dataset!r} instead.")
    config.generator, config.generator_params = preset.generator, dict(preset.params)
    session.circuit = generate(preset.generator, **preset.params)


def ensure_circuit() -> None:
    if session.circuit is None:
        try:
            session.circuit = generate(config.generator, **config.generator_params)
        except (ValueError, TypeError) as e:
            _fallback_circuit(f"The circuit settings could not be used ({e})")


def ensure_data() -> None:
    """session.data follows the dataset settings; a bad setting falls back to the defaults."""
    if config.dataset != CUSTOM and config.dataset not in DATASETS:
        page["errors"].append(f"Dataset: unknown name {config.dataset!r}; choose one of {', '.join(DATASETS)}. "
                              "Showing moons instead.")
        config.dataset = "moons"
    if config.dataset == CUSTOM:
        key = (CUSTOM, page["custom_version"], config.test_fraction, config.seed)
    else:
        key = (config.dataset, config.n_samples, config.noise, config.test_fraction, config.seed)
    if key == page["data_key"] and (session.data is not None or config.dataset == CUSTOM):
        return
    page["data_key"] = key
    try:
        if config.dataset == CUSTOM:
            page["custom_problem"] = None
            session.data = points_to_dataset(session.custom_points, config.test_fraction, config.seed)
        else:
            session.data = _dataset(*key)
    except ValueError as e:
        if config.dataset == CUSTOM:
            page["custom_problem"] = str(e)
            session.data = None
            return
        defaults = Config()
        page["errors"].append(f"Dataset settings could not be used ({e}); back to the defaults for "
                              f"{config.dataset!r}.")
        config.n_samples, config.noise = defaults.n_samples, None
        config.test_fraction, config.seed = defaults.test_fraction, defaults.seed
        page["data_key"] = (config.dataset, config.n_samples, None, config.test_fraction, config.seed)
        session.data = _dataset(*page["data_key"])


def _signature() -> tuple:
    tc, sc = config.train_config(), config.solver_config()
    return (session.circuit, session.data, (tc.optimizer, tc.batch_size, tc.weight_decay, tc.seed),
            (sc.method, sc.rtol, sc.atol, sc.step_size, sc.adjoint, sc.max_nfe))


def ensure_trainer() -> None:
    """Rebuild the trainer when anything but the learning rate changed (that restarts at epoch 0)."""
    sig, old = _signature(), page["sig"]
    same = old is not None and old[0] is sig[0] and old[1] is sig[1] and old[2:] == sig[2:]
    if same and (session.trainer is not None or page["mismatch"] or session.data is None):
        return
    had = session.trainer.epoch if session.trainer is not None else 0
    page["sig"], page["mismatch"], page["snapshot"] = sig, None, None
    session.trainer = None
    if session.data is not None:
        try:
            model = KirchhoffNet(session.circuit, config.solver_config())
            session.trainer = Trainer(model, session.data, config.train_config())
        except ValueError as e:
            page["mismatch"] = str(e)
    if session.trainer is None:
        session.playing = False
    if had and old is not None:
        page["notes"].append(f"The set-up changed, so training restarted from epoch 0 (it was at epoch {had}).")


# --- callbacks (run before the script, so the page always draws the new state) --------------------

def _validated(attr: str, value) -> None:
    old = getattr(config, attr)
    setattr(config, attr, value)
    try:
        config.train_config()
        config.solver_config()
    except ValueError as e:
        setattr(config, attr, old)
        page["errors"].append(str(e))


def _set(attr: str, key: str) -> None:
    _validated(attr, st.session_state[key])


def _set_lr(key: str) -> None:
    _validated("lr", float(st.session_state[key]))
    if session.trainer is not None:
        session.trainer.set_lr(config.lr)  # no reset: the run continues at the new rate


def _set_noise(key: str) -> None:
    value = st.session_state[key]
    spec = DATASETS.get(config.dataset)
    config.noise = None if spec is None or abs(value - spec.default_noise) < 1e-12 else float(value)


def _set_dataset(key: str) -> None:
    config.dataset = st.session_state[key]
    config.noise = None
    session.playing = False


def _regenerate_data() -> None:
    config.seed = (config.seed + 1) % 2**32


def _from_generator() -> bool:
    return session.circuit is not None and session.circuit.meta.get("generator") == config.generator


def _remember(**params) -> None:
    """Record a change in the generator arguments too, so the share link reproduces it."""
    if not _from_generator():
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


def _set_roles(key_in: str, key_out: str) -> None:
    inputs, outputs = list(st.session_state[key_in]), list(st.session_state[key_out])
    try:
        session.circuit = editing.set_roles(session.circuit, inputs, outputs)
        _remember(inputs=inputs, outputs=outputs)
    except ValueError as e:
        page["errors"].append(f"Input / read-out nodes: {e}")


def _fix_roles(inputs: list[int], outputs: list[int]) -> None:
    try:
        session.circuit = editing.set_roles(session.circuit, inputs, outputs)
        _remember(inputs=inputs, outputs=outputs)
    except ValueError as e:
        page["errors"].append(str(e))


def _use_preset() -> None:
    data = session.data
    preset = preset_for(config.dataset, data.n_outputs if data is not None else None)
    try:
        session.circuit = generate(preset.generator, **preset.params)
    except ValueError as e:
        page["errors"].append(str(e))
        return
    config.generator, config.generator_params = preset.generator, dict(preset.params)
    config.lr, config.batch_size = preset.train.lr, preset.train.batch_size
    config.optimizer, config.weight_decay = preset.train.optimizer, preset.train.weight_decay
    config.method, config.tol, config.step_size = preset.solver.method, preset.solver.rtol, preset.solver.step_size


def _set_t_end(key: str) -> None:
    t_end = float(st.session_state[key])
    c = session.circuit
    try:
        session.circuit = editing.set_durations(c, [d * t_end / c.t_end for d in c.durations])
        if len(set(c.durations)) == 1:
            _remember(duration=t_end / len(c.durations))
    except ValueError as e:
        page["errors"].append(f"Read-out time: {e}")


def _set_kind(key: str) -> None:
    kind = st.session_state[key]
    params = {**config.generator_params, "kind": kind}
    if kind == DEFAULT_KIND:
        params.pop("kind")
    try:
        session.circuit = generate(config.generator, **params)
    except (ValueError, TypeError) as e:
        page["errors"].append(f"Device kind: could not regenerate the circuit with {kind} ({e})")
        return
    config.generator_params = params


def _toggle_play() -> None:
    session.playing = not session.playing and session.trainer is not None


def _train(budget_s: float) -> None:
    """Run epochs until the next one would overrun ``budget_s`` (at least one); errors pause."""
    trainer = session.trainer
    start = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            trainer.step()
            page["model_version"] += 1
            now = time.perf_counter()
            if now - start + (now - t0) > budget_s or trainer.epoch >= MAX_EPOCHS:
                break
    except (SolverError, ValueError, RuntimeError) as e:
        page["model_version"] += 1  # the failing epoch may have changed some parameters
        session.playing = False
        page["errors"].append(f"Training paused at epoch {trainer.epoch}: {e}")
    if trainer.epoch >= MAX_EPOCHS and session.playing:
        session.playing = False
        page["notes"].append(f"Paused after {MAX_EPOCHS} epochs.")


def _step_once() -> None:
    if session.trainer is not None:
        _train(0.0)


def _reset() -> None:
    session.playing = False
    if session.trainer is not None:
        session.trainer.reset()
        session.trainer.set_lr(config.lr)
        page["model_version"] += 1


def _clear_points() -> None:
    session.custom_points = []
    page["custom_version"] += 1
    page["draw_version"] += 1
    page["editor_version"] += 1


def _add_point(kx: str, ky: str, kl: str) -> None:
    session.custom_points = [*session.custom_points,
                             (float(st.session_state[kx]), float(st.session_state[ky]), int(st.session_state[kl]))]
    page["custom_version"] += 1
    page["editor_version"] += 1


def _bind(key: str, value) -> None:
    """Show ``value`` in the widget ``key`` (the session's config is the source of truth)."""
    if st.session_state.get(key, object()) != value:
        st.session_state[key] = value


# --- the page -------------------------------------------------------------------------------------

ensure_circuit()
ensure_data()
ensure_trainer()

hidden = set(config.hide)
st.header("Train")
st.caption("Pick a dataset, press Play and watch the circuit learn: the read-out voltages at time T are the "
           "network's outputs, and training tunes every device's parameters.")
if session.message:  # only when this page runs on its own; the app shows it first otherwise
    st.warning(session.message)
    session.message = None
for msg in page["errors"]:
    st.error(msg)
for msg in page["notes"]:
    st.info(msg)
page["errors"], page["notes"] = [], []
if hidden:
    st.caption(f"Classroom mode: the link hides {', '.join(sorted(hidden))} controls.")

trainer = session.trainer
bar = st.columns([1, 1, 1, 5], vertical_alignment="center")
bar[0].button("Pause" if session.playing else "Play", key="train_play", on_click=_toggle_play,
              icon=":material/pause:" if session.playing else ":material/play_arrow:",
              disabled=trainer is None, type="primary", width="stretch")
bar[1].button("Step", key="train_step", on_click=_step_once, icon=":material/skip_next:", disabled=trainer is None or session.playing,
              help="Train one epoch", width="stretch")
bar[2].button("Reset", key="train_reset", on_click=_reset, icon=":material/replay:", disabled=trainer is None,
              help="Back to the circuit's initial parameters (epoch 0)", width="stretch")
if trainer is None:
    bar[3].caption("Training is not available until the circuit matches the data (see below).")
else:
    c = session.circuit
    bar[3].caption(f"{c.name or 'circuit'} · {c.num_nodes} nodes · {c.num_devices} devices · "
                   f"{c.num_parameters} parameters · T = {c.t_end:g}")


# --- hyperparameters and solver: a bar across the top, as in TensorFlow Playground ---------------------

c = session.circuit
if "hyperparameters" not in hidden:
    kinds = set(k for s in c.slices for k in s.kind.tolist())
    kind_now = next(iter(kinds)) if len(kinds) == 1 else config.generator_params.get("kind", DEFAULT_KIND)
    hp = st.columns(6)
    _bind("train_T", float(c.t_end))
    hp[0].number_input("Read-out time T", 0.01, 1000.0, step=0.25, key="train_T", on_change=_set_t_end,
                       args=("train_T",), format="%g", help="Total duration of the slices; scales each slice")
    _bind("train_kind", kind_now)
    hp[1].selectbox("Device kind", list(KINDS), key="train_kind", on_change=_set_kind, args=("train_kind",),
                    format_func=display_name, help="Regenerates the circuit from its generator with this I-V family")
    _bind("train_lr", float(config.lr))
    hp[2].number_input("Learning rate", 1e-5, 10.0, step=0.005, key="train_lr", format="%g",
                       on_change=_set_lr, args=("train_lr",), help="Takes effect at once, without a reset")
    _bind("train_opt", config.optimizer)
    hp[3].selectbox("Optimizer", list(OPTIMIZERS), key="train_opt", on_change=_set, args=("optimizer", "train_opt"))
    _bind("train_bs", int(config.batch_size))
    hp[4].number_input("Batch size", 0, 100_000, step=8, key="train_bs", on_change=_set,
                       args=("batch_size", "train_bs"), help="0 = full batch")
    _bind("train_wd", float(config.weight_decay))
    hp[5].number_input("Weight decay", 0.0, 10.0, step=1e-4, key="train_wd", format="%g", on_change=_set,
                       args=("weight_decay", "train_wd"))
if "solver" not in hidden:
    sv = st.columns([1, 2, 1.5, 1.5], vertical_alignment="bottom")
    _bind("train_method", config.method)
    sv[0].selectbox("Solver", list(METHODS), key="train_method", on_change=_set, args=("method", "train_method"))
    if config.method in ADAPTIVE:
        tols = sorted({1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 1e-5, 1e-6, float(config.tol)}, reverse=True)
        _bind("train_tol", float(config.tol))
        sv[1].select_slider("Tolerance (rtol = atol)", tols, key="train_tol", format_func=lambda v: f"{v:g}",
                            on_change=_set, args=("tol", "train_tol"))
    else:
        _bind("train_dt", config.step_size)
        sv[1].number_input("Step size", 1e-4, 10.0, key="train_dt", format="%g", on_change=_set,
                           args=("step_size", "train_dt"), placeholder="slice duration / 20",
                           help="Empty: each slice's duration / 20")
    _bind("train_adjoint", bool(config.adjoint))
    sv[2].toggle("Adjoint gradients", key="train_adjoint", on_change=_set, args=("adjoint", "train_adjoint"),
                 help="Back-propagate by solving the adjoint ODE backwards: less memory, more solver work")
if not {"hyperparameters", "solver"} <= hidden:
    st.caption("Changing anything except the learning rate rebuilds the trainer and restarts training at epoch 0.")

if page["mismatch"]:
    data = session.data
    st.error(page["mismatch"])
    if data is not None:
        d_in, d_out = data.n_features, data.n_outputs
        first, last = c.width(0), c.width(len(c.slices) - 1)
        fix_cols = st.columns(2)
        if d_in <= first and d_out <= last:
            ins = list(range(1, d_in + 1))
            outs = list(range(last - d_out + 1, last + 1))
            fix_cols[0].button(f"Use nodes {ins} as inputs and {outs} as read-outs", key="train_fix_roles",
                               on_click=_fix_roles, args=(ins, outs), width="stretch")
        else:
            fix_cols[0].caption(f"The circuit has too few nodes for {d_in} inputs and {d_out} read-outs.")
        fix_cols[1].button(f"Use the default circuit for {config.dataset}", key="train_fix_preset",
                           on_click=_use_preset, width="stretch")

col_data, col_live = st.columns([1.0, 3.2], gap="medium")

# --- data ------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False)
def _thumbnails(selected: str):
    sets = []
    for name, spec in DATASETS.items():
        d = make_dataset(name, n_samples=min(200, spec.max_samples), seed=0)
        sets.append((name, np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test]), spec.task))
    return tv.dataset_thumbnails(sets, selected=selected)


with col_data:
    st.subheader("Data")
    if "dataset" in hidden:
        st.caption(f"Dataset: **{config.dataset}** (fixed by the link)")
    else:
        st.plotly_chart(_thumbnails(config.dataset), key="train_thumbs", config={"displayModeBar": False},
                        width="stretch")
        names = list(DATASETS) + [CUSTOM]
        _bind("train_dataset", config.dataset)
        st.radio("Dataset", names, key="train_dataset", horizontal=True, on_change=_set_dataset,
                 args=("train_dataset",), format_func=lambda n: "your own points" if n == CUSTOM else n)
        if config.dataset != CUSTOM:
            spec = DATASETS[config.dataset]
            st.caption(spec.description)
            noise = spec.default_noise if config.noise is None else config.noise
            _bind("train_noise", float(noise))
            st.slider("Noise", 0.0, max(0.5, 3 * spec.default_noise, float(noise)), key="train_noise",
                      step=0.01, on_change=_set_noise, args=("train_noise",))
            _bind("train_n", int(config.n_samples))
            st.number_input("Samples", 10, spec.max_samples, step=50, key="train_n", on_change=_set,
                            args=("n_samples", "train_n"))
        _bind("train_test", float(config.test_fraction))
        st.slider("Test fraction", 0.05, 0.9, step=0.05, key="train_test", on_change=_set,
                  args=("test_fraction", "train_test"))
        _bind("train_seed", int(config.seed))
        st.number_input("Seed", 0, 2**32 - 1, key="train_seed", on_change=_set, args=("seed", "train_seed"))
        st.button("Regenerate", key="train_regen", on_click=_regenerate_data, help="New random draw (seed + 1)",
                  width="stretch")
        upload = st.file_uploader("Upload points (CSV with columns x1, x2, label)", type=["csv"], key="train_csv")
        if upload is not None and upload.file_id not in page["seen_uploads"]:
            page["seen_uploads"].add(upload.file_id)
            try:
                d = load_points_csv(upload.getvalue(), config.test_fraction, config.seed)
            except ValueError as e:
                st.error(f"{upload.name}: {e}")
            else:
                x, y = np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])
                session.custom_points = [(float(a), float(b), int(c)) for (a, b), c in zip(x, y)]
                config.dataset = CUSTOM
                page["custom_version"] += 1
                page["editor_version"] += 1
                st.rerun()
    data = session.data
    if data is not None:
        what = f"{data.n_classes} classes" if data.task == "classification" else "regression"
        st.caption(f"{len(data.x_train)} train / {len(data.x_test)} test points · {data.n_features} feature(s) "
                   f"· {what}")


    c = session.circuit
    if data is not None:
        if data.task == "classification":
            st.markdown(f"**Task:** classification into {data.n_classes} classes; the {data.n_classes} "
                        "read-out voltages at T are the logits.")
        else:
            st.markdown(f"**Task:** regression; the read-out voltage at T is the prediction "
                        f"({data.n_outputs} target{'s' if data.n_outputs > 1 else ''}, MSE loss).")
    if "hyperparameters" not in hidden:
        first, last = c.width(0), c.width(len(c.slices) - 1)
        _bind("train_inputs", list(c.inputs))
        _bind("train_outputs", list(c.outputs))
        st.multiselect("Input nodes", list(range(1, first + 1)), key="train_inputs",
                       on_change=_set_roles, args=("train_inputs", "train_outputs"),
                       help="v(0) of these nodes is the input, in feature order")
        st.multiselect("Read-out nodes", list(range(1, last + 1)), key="train_outputs",
                       on_change=_set_roles, args=("train_inputs", "train_outputs"),
                       help="v(T) of these nodes is the output, one per class or target, in order")


# --- live: metrics, decision boundary, node voltages, curves, solver health -------------------------

def _roles(c) -> list[str]:
    """Short role labels per node: in, out k (class or target k), hidden."""
    out = []
    for n in range(1, c.width(len(c.slices) - 1) + 1):
        r = node_role(n, c.inputs, c.outputs).replace("input", "in")
        if n in c.outputs:
            r = r.replace("output", f"out {c.outputs.index(n)}")
        out.append(r)
    return out


def _snapshot(trainer: Trainer):
    """Predictions and node voltages over the input plane (or line), cached per model version."""
    key = (id(trainer), trainer.epoch, page["model_version"])
    cached = page["snapshot"]
    if cached is not None and cached[0] == key:
        return cached[1]
    data = trainer.data
    if data.n_features == 2:
        grid = analysis.input_grid(data, GRID_RES)
        pred, volts = analysis.snapshot_grid(trainer.model, grid, data.task)
        result = ("plane", grid.xs, grid.ys, pred, volts)
    elif data.n_features == 1:
        xs = analysis.input_line(data, 200)
        pred, volts = analysis.snapshot(trainer.model, xs, data.task)
        result = ("line", xs, None, pred, volts)
    else:
        result = None
    page["snapshot"] = (key, result)
    return result


def _draw_live() -> None:
    trainer = session.trainer
    if trainer is None:
        if session.data is None and config.dataset == CUSTOM:
            st.info("Draw or upload your own points below (at least 10, two or more classes).")
        return
    data = trainer.data
    hist = trainer.history
    last = hist[-1] if hist else None
    prev = hist[-2] if len(hist) > 1 else None
    if trainer.device.type == "cuda":  # TrainConfig's device "auto" picked the server's GPU
        st.caption(f"Training on the server's {accelerator.describe(trainer.device)}.")
    m = st.columns(4)
    m[0].metric("Epoch", trainer.epoch)
    if last is None:
        m[1].metric("Train loss", "—")
        m[2].metric("Test loss", "—")
        m[3].metric("Test accuracy" if data.task == "classification" else "Test R²", "—")
    else:
        m[1].metric("Train loss", f"{last.train_loss:.4f}",
                    delta=None if prev is None else f"{last.train_loss - prev.train_loss:+.4f}", delta_color="inverse")
        m[2].metric("Test loss", f"{last.test_loss:.4f}",
                    delta=None if prev is None else f"{last.test_loss - prev.test_loss:+.4f}", delta_color="inverse")
        if last.metric == "accuracy":
            m[3].metric("Test accuracy", f"{last.test_metric:.1%}")
        else:
            m[3].metric("Test R²", f"{last.test_metric:.3f}")
        if not np.isfinite(last.train_loss):
            st.warning("The loss is not finite: the circuit's outputs overflowed. Lower the learning rate or T, "
                       "or press Reset.")

    opts = st.columns(2)
    show_test = opts[0].toggle("Show test points", value=True, key="train_show_test")
    discretise = opts[1].toggle("Discretise output", value=False, key="train_discretise",
                                disabled=data.task != "classification")
    try:
        snap = _snapshot(trainer)
    except (SolverError, ValueError, RuntimeError) as e:
        st.error(f"Could not evaluate the circuit over the input plane: {e}")
        snap = None
    roles = _roles(trainer.model.circuit)
    x_te, y_te = (data.x_test, data.y_test) if show_test else (None, None)
    title = f"epoch {trainer.epoch}"
    steps = analysis.steps_per_epoch(len(data.x_train), trainer.config.batch_size)
    left, right = st.columns([1.1, 1])
    with left:
        if snap is None and data.n_features > 2:
            st.caption(f"The inputs have {data.n_features} dimensions, so there is no input plane to draw; "
                       "watch the curves.")
        elif snap is not None:
            kind, xs, ys, pred, volts = snap
            if kind == "plane" and data.task == "classification":
                fig = tv.boundary_figure(xs, ys, pred, data.x_train, data.y_train, x_te, y_te, discretise, title)
            elif kind == "plane":
                fig = tv.regression_surface_figure(xs, ys, pred, data.x_train, data.y_train, x_te, y_te, title)
            else:
                fig = tv.regression_curve_figure(xs, pred, data.x_train, data.y_train, x_te, y_te, title)
            st.plotly_chart(fig, key="train_output_chart", width="stretch")
    with right:
        if hist:
            series = analysis.history_series(hist, steps)
            st.plotly_chart(tv.curves_figure(series, last.metric), key="train_curves", width="stretch")
        else:
            st.caption("Press Play or Step to start training; loss, accuracy and solver work appear here.")
    if snap is not None:
        kind, xs, ys, pred, volts = snap
        st.caption("Every node's voltage at T over the input plane (orange negative, blue positive)"
                   if kind == "plane" else "Every node's voltage at T against the input")
        nfig = tv.node_thumbnails_figure(xs, ys, volts, roles) if kind == "plane" else \
            tv.node_curves_figure(xs, volts, roles)
        st.plotly_chart(nfig, key="train_nodes_chart", width="stretch")
    if hist:
        health = analysis.solver_health(last, steps, trainer.model.solver.max_nfe)
        h = st.columns(4)
        h[0].metric("NFE/step forward", f"{health.nfe_forward_per_step:.0f}")
        h[1].metric("NFE/step backward", f"{health.nfe_backward_per_step:.0f}",
                    help="0 without the adjoint: gradients go straight through the solver's steps")
        h[2].metric("Rejected steps", health.rejected_steps, help="Adaptive steps the error control threw away")
        h[3].metric("Largest solve", f"{health.max_nfe_per_solve} NFE", help=f"The cap is {health.cap} per solve")
        if health.warning:
            st.warning("Solver health: " + health.warning)


with col_live:
    @st.fragment(run_every=TICK_S if session.playing else None)
    def live() -> None:
        # Draw first, then train: the charts are fresh while the epochs run (Streamlit fades elements a
        # run has not re-sent yet), and the next tick shows what this one trained.
        _draw_live()
        if session.playing and session.trainer is not None:
            _train(TICK_BUDGET_S)
            if not session.playing:  # paused by an error or the epoch limit: redraw the buttons too
                st.rerun()

    live()


# --- your own points --------------------------------------------------------------------------------

if config.dataset == CUSTOM and "dataset" not in hidden:
    with st.expander("Draw your own points", expanded=True):
        st.caption("Click on the canvas to add a point of the chosen class (it snaps to a 0.1 grid), or pick the "
                   "box-select tool in the chart's toolbar and drag a box to scatter 10 points in it. The table "
                   "edits or deletes points; the form adds exact ones.")
        if page["custom_problem"]:
            st.warning(f"These points cannot be used yet: {page['custom_problem']}")
        dc = st.columns([2, 1.2])
        with dc[1]:
            label = st.radio("Class of new points", list(range(6)), horizontal=True, key="train_draw_class")
            with st.form("train_add_point", border=False):
                fc = st.columns(3)
                fc[0].number_input("x1", -10.0, 10.0, 0.0, step=0.1, key="train_px")
                fc[1].number_input("x2", -10.0, 10.0, 0.0, step=0.1, key="train_py")
                fc[2].number_input("label", 0, 9, 0, key="train_pl")
                st.form_submit_button("Add point", on_click=_add_point, args=("train_px", "train_py", "train_pl"))
            st.button("Clear all points", key="train_clear_points", on_click=_clear_points)
            frame = pd.DataFrame(session.custom_points, columns=["x1", "x2", "label"])
            edited = st.data_editor(frame, num_rows="delete", key=f"train_points_{page['editor_version']}",
                                    height=220, width="stretch")
            rows = [(float(a), float(b), int(c)) for a, b, c in edited.dropna().itertuples(index=False)]
            if rows != list(session.custom_points):
                session.custom_points = rows
                page["custom_version"] += 1
                page["editor_version"] += 1
                st.rerun()
        with dc[0]:
            event = st.plotly_chart(tv.draw_figure(session.custom_points, CANVAS),
                                    key=f"train_draw_{page['draw_version']}",
                                    on_select="rerun", selection_mode=("points", "box"), width="stretch")
            new = []
            sel = event.selection if event else None
            if sel:
                if sel.get("box"):
                    for box in sel["box"]:
                        pts = analysis.points_in_box(box["x"], box["y"], n=10, seed=page["draw_version"])
                        new += [(float(a), float(b), int(label)) for a, b in pts]
                else:
                    new += [(float(p["x"]), float(p["y"]), int(label)) for p in sel.get("points", [])
                            if p.get("curve_number") == 0]
            if new:
                session.custom_points = [*session.custom_points, *new]
                page["custom_version"] += 1
                page["draw_version"] += 1
                page["editor_version"] += 1
                st.rerun()


# --- share, save and load ---------------------------------------------------------------------------

def _model_json() -> str:
    """The download: the circuit with the current (trained) parameters plus the run's settings and history."""
    t = session.trainer
    circuit = t.model.to_circuit() if t is not None else session.circuit
    training = {"config": asdict(config), "epoch": t.epoch if t else 0,
                "history": [r.to_dict() for r in t.history] if t else []}
    return kio.dumps_circuit(circuit, extra={"training": training})


def share_and_save(query: dict[str, str]) -> None:
    st.divider()
    st.subheader("Share & save")
    io_cols = st.columns([1.4, 1, 1])
    with io_cols[0]:
        base = st.context.url or "http://localhost:8501/train"
        st.caption("Share link — reproduces the dataset, generator and hyperparameters (not hand edits or "
                   "drawn points; download the model for those):")
        st.code(base + ("?" + urlencode(query) if query else ""), language=None)

    with io_cols[1]:
        st.download_button("Download model (JSON)", data=_model_json, file_name="kirchhoffnet-trained.json",
                           mime="application/json", on_click="ignore", key="train_download")
        st.caption("Circuit with the current parameters, plus the training settings and history.")
    with io_cols[2]:
        model_file = st.file_uploader("Load a model (JSON)", type=["json"], key="train_model_upload")
        if model_file is not None and model_file.file_id not in page["seen_uploads"]:
            page["seen_uploads"].add(model_file.file_id)
            try:
                loaded = kio.loads_circuit(model_file.getvalue())
            except ValueError as e:
                st.error(f"{model_file.name}: {e} (the previous circuit is unchanged)")
            else:
                session.circuit = loaded
                session.playing = False
                page["notes"].append(f"Loaded {model_file.name}: {loaded.num_nodes} nodes, {loaded.num_devices} "
                                     "devices. Training starts from its parameters.")
                st.rerun()


query = config_to_query(config)
if "io" not in hidden:
    with col_live:
        share_and_save(query)

# Keep the address bar in step with the configuration, so reloading or copying it reproduces the set-up.
if {k: v for k, v in st.query_params.items()} != query:
    st.query_params.from_dict(query)
