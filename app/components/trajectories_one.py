"""Trajectories page, one input: choose it (click, type, or a test-set index) and watch its transient —
node voltages and device currents in the circuit drawing, every node's v(t), the read-out over
time — and download it as CSV. Numbers from ``kirchhoff_core.trajectories``."""

from __future__ import annotations

import numpy as np
import streamlit as st

from kirchhoff_core import trajectories as tj
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import Dataset
from kirchhoff_core.model import KirchhoffNet
from live import ERRORS
from settings import TrajectoryInput
from state import TrajectoriesPage, bound
from views import circuit_view
from views import trajectory_views as tv

POINTS_PER_SLICE = 100  # stored points of the single-input trajectory per slice
FRAMES = 40  # frames of the watch animation
MAX_EDGE_PAIRS = 800  # node pairs drawn with currents; bigger circuits show node colours only
MAX_DRAWN_NODES = 400
TYPED_MAX_FEATURES = 4  # above this many inputs, pick by index only
CSV_LAZY_CELLS = 200_000  # larger CSVs are built only when the download is clicked


def set_x(page: TrajectoriesPage, x, source: str, test_index: int | None = None) -> None:
    page.x, page.x_from = np.asarray(x, dtype=np.float64), source
    page.choice = TrajectoryInput(test_index, None if test_index is not None else tuple(float(v) for v in page.x))
    if test_index is not None:
        page.shown_index = test_index


def restore(page: TrajectoriesPage, n_inputs: int, x_test: np.ndarray | None) -> None:
    """The followed input from the page's choice (a link's, or the last one) when it no longer fits."""
    if page.x is not None and len(page.x) == n_inputs:
        return
    i, x = page.choice.index, page.choice.x
    if x_test is not None and i is not None and i < len(x_test):
        set_x(page, x_test[i], f"test point #{i}", i)
    elif i is None and x is not None and len(x) == n_inputs:
        set_x(page, x, "the link's coordinates")
    elif x_test is not None and len(x_test):
        set_x(page, x_test[0], "test point #0", 0)
    else:
        set_x(page, np.zeros(n_inputs), "typed coordinates")


def _from_index(page: TrajectoriesPage, x_test: np.ndarray, i: int) -> None:
    i = int(i)
    if 0 <= i < len(x_test):
        set_x(page, x_test[i], f"test point #{i}", i)
    else:
        page.messages.error(f"Test-set index: choose 0 to {len(x_test) - 1}, got {i}")


def _typed(page: TrajectoriesPage, i: int, value, n_inputs: int) -> None:
    values = [float(v) for v in page.x]
    values[i] = np.nan if value is None else value
    try:
        x = tj.check_input(values, n_inputs)
    except ValueError as e:
        page.messages.error(f"Coordinates: {e}. The previous input is kept.")
        return
    set_x(page, x, "typed coordinates")


def pick(page: TrajectoriesPage, model: KirchhoffNet, data: Dataset | None) -> None:
    """The data plane to click in (left) and the index and coordinate fields (right)."""
    n_inputs, x_test = len(model.inputs), (data.x_test if data is not None else None)
    pick_left, pick_right = st.columns([1.3, 1], gap="medium")
    with pick_right:
        st.subheader("Input")
        if x_test is not None:
            bound(st.number_input, "Test-set index", 0, len(x_test) - 1, key="traj_index", value=page.shown_index,
                  on_set=lambda v: _from_index(page, x_test, v), help=f"0 to {len(x_test) - 1}")
        if n_inputs <= TYPED_MAX_FEATURES:
            for i, col in enumerate(st.columns(n_inputs)):
                bound(col.number_input, f"x{i + 1} (V)", key=f"traj_x{i + 1}", value=float(page.x[i]), step=0.1,
                      format="%.3f", on_set=lambda v, i=i: _typed(page, i, v, n_inputs),
                      help=f"input voltage of node {model.inputs[i]}")
        else:
            st.caption(f"The circuit has {n_inputs} inputs; pick a test-set sample by its index.")
        shown = ", ".join(f"{v:.3f}" for v in page.x[:6]) + (" …" if n_inputs > 6 else "")
        st.markdown(f"**Chosen:** {page.x_from} — x = ({shown})")
    with pick_left:
        if data is not None and data.n_features <= 2:
            fig = tv.picker_figure(data.x_train, data.y_train, data.x_test, data.y_test, data.task, page.x)
            event = st.plotly_chart(fig, key=f"traj_pick_{page.pick_version}", on_select="rerun",
                                    selection_mode="points", width="stretch", config={"displayModeBar": False})
            points = (event.selection or {}).get("points", []) if event else []
            if points:
                p = points[0]
                if p.get("curve_number") == 0 and p.get("point_index") is not None:
                    i = int(p["point_index"])
                    set_x(page, data.x_test[i], f"test point #{i}", i)
                else:
                    set_x(page, [p["x"], p["y"]] if data.n_features == 2 else [p["x"]], "clicked training point")
                page.pick_version += 1
                st.rerun()
            st.caption("Click a test point to follow it (training points are faint; a click on one works too).")
        elif data is not None:
            st.caption(f"The inputs have {data.n_features} dimensions, so there is no plane to click in; use the "
                       "test-set index.")


def _metrics(page: TrajectoriesPage, traj, readout, winner, classification: bool, data: Dataset | None) -> None:
    m = st.columns(4)
    if classification and winner is not None:
        m[0].metric("Predicted class", winner[0], help="the read-out node with the highest voltage at T")
        m[1].metric("Confidence at T", f"{readout[-1, winner[0]]:.1%}", help="softmax of the read-out voltages")
        m[2].metric("Decided at t =", f"{winner[1]:.3g}", help="from this time on the final winner stays ahead")
    else:
        m[0].metric("Read-out at T", ", ".join(f"{v:.3f}" for v in traj.readout[-1][:3]))
    if page.choice.index is not None and data is not None:
        truth = data.y_test[page.choice.index]
        m[3].metric("True class" if data.task == "classification" else "True target",
                    int(truth) if data.task == "classification" else f"{float(np.ravel(truth)[0]):.3f}")


def _drawing(page: TrajectoriesPage, model: KirchhoffNet, traj, readout, winner, classification: bool) -> None:
    circuit = model.circuit
    width = circuit.max_width
    if width > MAX_DRAWN_NODES:
        st.caption(f"{width:,} nodes are too many to draw; download the trajectory below.")
        return
    roles = [node_role(n, circuit.inputs, circuit.outputs) for n in range(1, width + 1)]
    positions = page.memo.get(("positions", circuit.fingerprint(params=False)),
                              lambda: circuit_view.node_positions(circuit))
    frames = traj.indices_at(tj.frame_times(traj.t_end, FRAMES))
    n_pairs = max(len(circuit.node_pairs(i)[0]) for i in range(len(circuit.slices)))
    pair_frames = None
    if traj.currents is not None and n_pairs <= MAX_EDGE_PAIRS:
        pair_frames = []
        for p in frames:
            src, dst = traj.devices[int(traj.slice_index[p])]
            pair_frames.append(tj.pair_currents(src, dst, traj.device_currents_at(int(p))))
    else:
        st.caption(f"{n_pairs:,} node pairs are too many to draw with their currents; the nodes still show "
                   "their voltages.")
    fig = tv.watch_figure(traj.times, traj.voltages, frames, positions, roles, traj.boundaries, circuit.outputs,
                          pair_frames, readout, "softmax of the read-outs" if classification else "read-out voltage",
                          winner)
    st.plotly_chart(fig, key="traj_watch", width="stretch")
    st.caption("Left: nodes coloured by voltage (orange negative, blue positive; inputs ringed green, read-outs "
               "orange); each line is the net current between two nodes, thicker and darker when larger, "
               "its arrow pointing the way the current flows. Right: every node's v(t) with the read-outs "
               "thick, and the read-out over time. Dotted lines are slice boundaries.")


def _csv(traj) -> None:
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


def watch(page: TrajectoriesPage, model: KirchhoffNet, mkey: tuple, data: Dataset | None) -> None:
    st.subheader("Watch the circuit think")
    x = page.x
    try:
        traj = page.memo.get(("traj", mkey, tuple(x.tolist()), POINTS_PER_SLICE),
                             lambda: tj.compute_trajectory(model, x, POINTS_PER_SLICE, currents=True))
    except ERRORS as e:
        st.error(f"Could not simulate this input: {e}")
        return
    for note in traj.notes:
        st.caption(note)
    task = data.task if data is not None else None
    classification = task == "classification" or (task is None and len(model.circuit.outputs) > 1)
    readout = tj.softmax_over_time(traj.readout) if classification else traj.readout
    winner = None
    if classification:
        try:
            winner = tj.winner_time(readout, traj.times)
        except ValueError:
            winner = None
    _metrics(page, traj, readout, winner, classification, data)
    _drawing(page, model, traj, readout, winner, classification)
    _csv(traj)
