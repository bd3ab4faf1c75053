"""Trajectories page: watch the circuit think.

Pick one input (click it in the dataset, type its coordinates or give a test-set index) and watch
its transient: every node's voltage, the device currents in the circuit drawing, and the read-out's
softmax over time. For the whole test set: the point cloud flowing through two nodes' voltage
plane, and the accuracy (and decision regions) if the circuit were read out earlier or later.
The numbers come from ``kirchhoff_core.trajectories``; ``views.trajectory_views`` draws them.
"""

from __future__ import annotations

import hashlib
import pathlib

import numpy as np
import streamlit as st

from kirchhoff_core import analysis
from kirchhoff_core import io as kio
from kirchhoff_core import trajectories as tj
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import DATASETS, make_dataset
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverError
from kirchhoff_core.train import check_compatible
from state import dataset_for, ensure_circuit, get_session, set_circuit
from views import circuit_view
from views import trajectory_views as tv

PAGE_KEY = "traj_page"
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "assets" / "examples" / "moons_trained.json"
POINTS_PER_SLICE = 100  # stored points of the single-input trajectory per slice
FRAMES = 40  # frames of the watch and flow animations
SWEEP_FRAMES = 21  # read-out times of the accuracy sweep / boundary animation
GRID_RES = 36  # decision-boundary grid per frame
FLOW_MAX_POINTS = 400  # test points in the flow view
MAX_EDGE_PAIRS = 800  # node pairs drawn with currents; bigger circuits show node colours only
MAX_DRAWN_NODES = 400
TYPED_MAX_FEATURES = 4  # above this many inputs, pick by index only
CSV_LAZY_CELLS = 200_000  # larger CSVs are built only when the download is clicked
ERRORS = (SolverError, ValueError, RuntimeError)

session = get_session()
config = session.config


def _page() -> dict:
    """This page's bookkeeping: chosen input, messages, a small cache of computed results."""
    if PAGE_KEY not in st.session_state:
        st.session_state[PAGE_KEY] = {"x": None, "x_from": "", "x_test_index": None, "errors": [], "notes": [],
                                      "pick_version": 0, "cache": {}}
    return st.session_state[PAGE_KEY]


page = _page()


def _cached(name: str, key: tuple, fn):
    """One remembered result per name, recomputed when its key changes (errors are not kept)."""
    hit = page["cache"].get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = fn()
    page["cache"][name] = (key, value)
    return value


@st.cache_data(show_spinner=False, max_entries=32)
def _dataset(name: str, n_samples: int, noise: float | None, test_fraction: float, seed: int):
    return make_dataset(name, n_samples=n_samples, noise=noise, test_fraction=test_fraction, seed=seed)


def _model_key(model: KirchhoffNet) -> str:
    """Changes whenever the parameters do (the Train page trains the same module in place)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(str(id(model)).encode())
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


# --- model and data --------------------------------------------------------------------------------

def _session_data():
    """The dataset the Train page trains on (its own copy when training has not been set up)."""
    if session.trainer is not None:
        return session.trainer.data, None
    if session.data is not None:
        return session.data, None
    if config.dataset not in DATASETS:
        return None, ("The session uses your own points; draw at least 10 of them on the Train page to see the "
                      "dataset views here. Typed inputs work without them.")
    try:
        return _dataset(config.dataset, config.n_samples, config.noise, config.test_fraction, config.seed), None
    except ValueError as e:
        try:
            return dataset_for(config), None
        except ValueError:
            return None, f"The dataset settings could not be used ({e}); typed inputs still work."


def _session_model() -> KirchhoffNet:
    """The Train page's model when there is one, else the session's circuit, untrained."""
    if session.trainer is not None:
        return session.trainer.model
    circuit = session.circuit
    return _cached("model", (id(circuit), config.solver_config().to_dict().__repr__()),
                   lambda: KirchhoffNet(circuit, config.solver_config()))


def _load_example() -> None:
    try:
        circuit = kio.load_circuit(EXAMPLE)
    except ValueError as e:
        page["errors"].append(f"Could not load the example: {e}")
        return
    set_circuit(session, circuit)
    config.dataset, config.noise, config.n_samples, config.test_fraction, config.seed = "moons", None, 500, 0.2, 0
    session.data = None
    page["x"] = None
    page["notes"].append(f"Loaded the example **{circuit.name}**: {circuit.meta.get('description', '')}")


# --- choosing the input ----------------------------------------------------------------------------

def _set_x(x: np.ndarray, source: str, test_index: int | None = None) -> None:
    page["x"], page["x_from"], page["x_test_index"] = np.asarray(x, dtype=np.float64), source, test_index


def _from_index(key: str, x_test: np.ndarray) -> None:
    i = int(st.session_state[key])
    if 0 <= i < len(x_test):
        _set_x(x_test[i], f"test point #{i}", i)
    else:
        page["errors"].append(f"Test-set index: choose 0 to {len(x_test) - 1}, got {i}")


def _typed(keys: list[str], n_inputs: int) -> None:
    values = [st.session_state.get(k) for k in keys]
    try:
        x = tj.check_input([np.nan if v is None else v for v in values], n_inputs)
    except ValueError as e:
        page["errors"].append(f"Coordinates: {e}. The previous input is kept.")
        return
    _set_x(x, "typed coordinates")


def _bind(key: str, value) -> None:
    if st.session_state.get(key, object()) != value:
        st.session_state[key] = value


# --- the page ---------------------------------------------------------------------------------------

st.header("Trajectories")
st.caption("Watch the circuit think: the input charges the input nodes at t = 0, Kirchhoff's current law moves "
           "every node, and the read-out nodes' voltages at T are the answer. Everything below plays in your "
           "browser — press Play on a chart or drag its time slider.")

problem = ensure_circuit(session)
if problem:
    st.warning(problem)
for msg in page["errors"]:
    st.error(msg)
for msg in page["notes"]:
    st.info(msg)
page["errors"], page["notes"] = [], []

try:
    model = _session_model()
except ERRORS as e:
    st.error(f"The session's circuit cannot be simulated: {e}")
    st.button("Load the trained moons example", key="traj_load_example", on_click=_load_example,
              icon=":material/upload_file:")
    st.stop()

data, data_problem = _session_data()
if data_problem:
    st.info(data_problem)
mismatch = None
if data is not None:
    try:
        check_compatible(model, data)
    except ValueError as e:
        mismatch = str(e)
        data = None
circuit = model.circuit
trained_epochs = session.trainer.epoch if session.trainer is not None else 0

status = st.columns([3, 1.2], vertical_alignment="center")
if mismatch:
    status[0].error(f"The circuit does not match the dataset {config.dataset!r}: {mismatch}. Typed inputs still "
                    "work; the dataset views need a circuit whose input and read-out nodes fit the data (fix it on "
                    "the Train page) — or load the trained example.")
elif trained_epochs:
    last = session.trainer.history[-1]
    what = f"{last.test_metric:.1%} test accuracy" if last.metric == "accuracy" else f"test R² {last.test_metric:.3f}"
    status[0].success(f"The circuit as trained on the Train page: {trained_epochs} epoch(s), {what}.")
else:
    status[0].info(f"Showing **{circuit.name or 'the session circuit'}** with its current parameters: the Train page "
                   "has not trained it in this session. Train it there, or load the trained example.")
status[1].button("Load the trained moons example", key="traj_load_example", on_click=_load_example,
                 icon=":material/upload_file:", width="stretch",
                 help="A trained copy of the default 8-node moons circuit (assets/examples/moons_trained.json); "
                      "replaces the session's circuit and switches the dataset to moons")

n_inputs = len(model.inputs)
task = data.task if data is not None else None
x_test = data.x_test if data is not None else None
if page["x"] is None or len(page["x"]) != n_inputs:
    if x_test is not None and len(x_test):
        _set_x(x_test[0], "test point #0", 0)
    else:
        _set_x(np.zeros(n_inputs), "typed coordinates")

# --- pick an input ------------------------------------------------------------------------------

pick_left, pick_right = st.columns([1.3, 1], gap="medium")
with pick_right:
    st.subheader("Input")
    if x_test is not None:
        if page["x_test_index"] is not None:
            _bind("traj_index", int(page["x_test_index"]))
        st.number_input("Test-set index", 0, len(x_test) - 1, key="traj_index", on_change=_from_index,
                        args=("traj_index", x_test), help=f"0 to {len(x_test) - 1}")
    if n_inputs <= TYPED_MAX_FEATURES:
        keys = [f"traj_x{i + 1}" for i in range(n_inputs)]
        cols = st.columns(n_inputs)
        for i, (col, key) in enumerate(zip(cols, keys)):
            _bind(key, float(page["x"][i]))
            col.number_input(f"x{i + 1} (V)", key=key, step=0.1, format="%.3f", on_change=_typed,
                             args=(keys, n_inputs), help=f"input voltage of node {model.inputs[i]}")
    else:
        st.caption(f"The circuit has {n_inputs} inputs; pick a test-set sample by its index.")
    shown = ", ".join(f"{v:.3f}" for v in page["x"][:6]) + (" …" if n_inputs > 6 else "")
    st.markdown(f"**Chosen:** {page['x_from']} — x = ({shown})")

with pick_left:
    if data is not None and data.n_features <= 2:
        fig = tv.picker_figure(data.x_train, data.y_train, data.x_test, data.y_test, data.task, page["x"])
        event = st.plotly_chart(fig, key=f"traj_pick_{page['pick_version']}", on_select="rerun",
                                selection_mode="points", width="stretch", config={"displayModeBar": False})
        points = (event.selection or {}).get("points", []) if event else []
        if points:
            p = points[0]
            if p.get("curve_number") == 0 and p.get("point_index") is not None:
                i = int(p["point_index"])
                _set_x(data.x_test[i], f"test point #{i}", i)
            elif data.n_features == 2:
                _set_x(np.array([p["x"], p["y"]], dtype=np.float64), "clicked training point")
            else:
                _set_x(np.array([p["x"]], dtype=np.float64), "clicked training point")
            page["pick_version"] += 1
            st.rerun()
        st.caption("Click a test point to follow it (training points are faint; a click on one works too).")
    elif data is not None:
        st.caption(f"The inputs have {data.n_features} dimensions, so there is no plane to click in; use the "
                   "test-set index.")

# --- watch one input -----------------------------------------------------------------------------

st.subheader("Watch the circuit think")
mkey = _model_key(model)
x = page["x"]
try:
    traj = _cached("traj", (mkey, tuple(x.tolist()), POINTS_PER_SLICE),
                   lambda: tj.compute_trajectory(model, x, POINTS_PER_SLICE, currents=True))
except ERRORS as e:
    st.error(f"Could not simulate this input: {e}")
    traj = None

if traj is not None:
    for note in traj.notes:
        st.caption(note)
    width = circuit.max_width
    roles = [node_role(n, circuit.inputs, circuit.outputs) for n in range(1, width + 1)]
    classification = task == "classification" or (task is None and len(circuit.outputs) > 1)
    readout = tj.softmax_over_time(traj.readout) if classification else traj.readout
    winner = None
    if classification:
        try:
            winner = tj.winner_time(readout, traj.times)
        except ValueError:
            winner = None
    m = st.columns(4)
    final = traj.readout[-1]
    if classification and winner is not None:
        m[0].metric("Predicted class", winner[0], help="the read-out node with the highest voltage at T")
        m[1].metric("Confidence at T", f"{readout[-1, winner[0]]:.1%}", help="softmax of the read-out voltages")
        m[2].metric("Decided at t =", f"{winner[1]:.3g}", help="from this time on the final winner stays ahead")
    else:
        m[0].metric("Read-out at T", ", ".join(f"{v:.3f}" for v in final[:3]))
    if page["x_test_index"] is not None and data is not None:
        truth = data.y_test[page["x_test_index"]]
        m[3].metric("True class" if data.task == "classification" else "True target",
                    int(truth) if data.task == "classification" else f"{float(np.ravel(truth)[0]):.3f}")
    draw_nodes = width <= MAX_DRAWN_NODES
    positions = _cached("positions", (circuit_view.circuit_fingerprint(circuit, params=False),),
                        lambda: circuit_view.node_positions(circuit)) if draw_nodes else None
    frames = traj.indices_at(tj.frame_times(traj.t_end, FRAMES))
    pair_frames = None
    n_pairs = max(len(np.unique(np.minimum(s, d) * (width + 1) + np.maximum(s, d))) for s, d in traj.devices)
    if traj.currents is not None and draw_nodes and n_pairs <= MAX_EDGE_PAIRS:
        pair_frames = []
        for p in frames:
            src, dst = traj.devices[int(traj.slice_index[p])]
            pair_frames.append(tj.pair_currents(src, dst, traj.device_currents_at(int(p))))
    elif draw_nodes:
        st.caption(f"{n_pairs:,} node pairs are too many to draw with their currents; the nodes still show "
                   "their voltages.")
    if draw_nodes:
        fig = tv.watch_figure(traj.times, traj.voltages, frames, positions, roles, traj.boundaries,
                              circuit.outputs, pair_frames, readout,
                              "softmax of the read-outs" if classification else "read-out voltage",
                              winner)
        st.plotly_chart(fig, key="traj_watch", width="stretch")
        st.caption("Left: nodes coloured by voltage (orange negative, blue positive; inputs ringed green, read-outs "
                   "orange); each line is the net current between two nodes, thicker and darker when larger, "
                   "its arrow pointing the way the current flows. Right: every node's v(t) with the read-outs "
                   "thick, and the read-out over time. Dotted lines are slice boundaries.")
    else:
        st.caption(f"{width:,} nodes are too many to draw; download the trajectory below.")

    with st.expander("Export the trajectory (CSV)", icon=":material/download:"):
        with_currents = st.toggle("Include every device's current", value=False, key="traj_csv_currents",
                                  disabled=traj.currents is None,
                                  help="one column per device of each slice, i_s{slice}_d{device}_{src}to{dst}")
        cells = traj.num_points * (traj.voltages.shape[1] + (sum(len(s) for s, _ in traj.devices)
                                                              if with_currents else 0))
        csv_data = (lambda: tj.to_csv(traj, currents=with_currents)) if cells > CSV_LAZY_CELLS else \
            tj.to_csv(traj, currents=with_currents)
        st.download_button("Download trajectory CSV", csv_data, file_name="kirchhoffnet-trajectory.csv",
                           mime="text/csv", key="traj_csv", on_click="ignore", icon=":material/download:")
        st.caption(f"{traj.num_points} rows: t (model time), slice, v1..v{traj.voltages.shape[1]} (empty where the "
                   "slice lacks the node). A slice boundary appears twice: the end of one slice and the start "
                   "of the next.")

# --- the whole test set -------------------------------------------------------------------------------

st.divider()
st.subheader("The whole test set over time")
if data is None:
    st.info("These views need a dataset that matches the circuit's input and read-out nodes.")
    st.stop()

plane = data.n_features == 2
flow_col, sweep_col = st.columns(2, gap="medium")
with flow_col:
    st.markdown("**Flow: the test set moving through two nodes' voltages**")
    if not plane:
        st.caption(f"The flow view is for 2-D inputs; this dataset has {data.n_features} input dimension(s). "
                   "The accuracy sweep on the right works for any dataset.")
    else:
        width = circuit.max_width
        options = list(range(1, width + 1))
        default = circuit.outputs[:2] if len(circuit.outputs) >= 2 else circuit.inputs[:2]
        label = {n: f"node {n} ({node_role(n, circuit.inputs, circuit.outputs).replace('output', 'read-out')})"
                 for n in options}
        c1, c2 = st.columns(2)
        ax = c1.selectbox("horizontal axis", options, index=options.index(default[0]), key="traj_flow_x",
                          format_func=label.get)
        ay = c2.selectbox("vertical axis", options, index=options.index(default[1]), key="traj_flow_y",
                          format_func=label.get)
        idx = np.arange(len(data.x_test))
        if len(idx) > FLOW_MAX_POINTS:
            idx = np.linspace(0, len(idx) - 1, FLOW_MAX_POINTS).round().astype(int)
            st.caption(f"Showing {FLOW_MAX_POINTS} of the {len(data.x_test)} test points.")
        times = tj.frame_times(model.t_end, FRAMES)
        try:
            states = _cached("flow", (mkey, id(data), FRAMES, len(idx)),
                             lambda: tj.batch_states(model, data.x_test[idx], times))
        except ERRORS as e:
            st.error(f"Could not simulate the test set: {e}")
        else:
            y = np.asarray(data.y_test)[idx]
            pts = states[..., [ax - 1, ay - 1]]
            two_readouts = data.task == "classification" and data.n_outputs == 2 and \
                {ax, ay} == set(circuit.outputs)
            diag = "decision line" if two_readouts else None
            st.plotly_chart(tv.flow_figure(times, pts, y, data.task, (f"v{ax}", f"v{ay}"), diag),
                            key="traj_flow", width="stretch")
            st.caption("Each dot is a test point, coloured by its true class. At t = 0 the dots sit at their input "
                       "voltages (or at 0 V for nodes that are not inputs); press Play to watch Kirchhoff's law "
                       "carry them apart." + (" With the two read-outs as axes, the dashed diagonal is the "
                                               "decision line: above it class 1 wins." if two_readouts else ""))

with sweep_col:
    st.markdown("**Read too early, read too late**")
    times = tj.frame_times(model.t_end, SWEEP_FRAMES)
    try:
        sweep = _cached("sweep", (mkey, id(data), SWEEP_FRAMES),
                        lambda: tj.metric_vs_readout_time(model, data, times, split="test"))
        outs, grid = None, None
        if plane:
            grid = analysis.input_grid(data, GRID_RES)
            outs = _cached("boundary", (mkey, id(data), SWEEP_FRAMES, GRID_RES),
                           lambda: tj.boundary_at_times(model, grid, times, data.task))
    except ERRORS as e:
        st.error(f"Could not evaluate the read-out times: {e}")
    else:
        fig = tv.sweep_figure(times, grid.xs if grid else None, grid.ys if grid else None, outs, data.task,
                              sweep.metric, sweep.metric_name, data.x_test, data.y_test, model.boundaries,
                              t_readout=model.t_end)
        st.plotly_chart(fig, key="traj_sweep", width="stretch")
        t_best, m_best = sweep.best
        name = "accuracy" if sweep.metric_name == "accuracy" else "R²"
        fmt = (lambda v: f"{v:.1%}") if sweep.metric_name == "accuracy" else (lambda v: f"{v:.3f}")
        s1, s2 = st.columns(2)
        s1.metric(f"Test {name} at T = {model.t_end:g}", fmt(sweep.metric[-1]))
        s2.metric("Best read-out time", f"t = {t_best:.3g}", help=f"test {name} there: {fmt(m_best)}")
        if not plane:
            st.caption(f"The decision-boundary animation needs 2-D inputs; this dataset has {data.n_features}.")
        st.caption("The circuit is trained to be read at T. Reading earlier would make the chip faster; the curve "
                   "shows what that would cost (or whether the answer was already there).")
