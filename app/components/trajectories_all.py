"""Trajectories page, the whole test set: the point cloud moving through two nodes' voltages, and the
accuracy (with the decision regions) if the circuit were read out earlier or later."""

from __future__ import annotations

import numpy as np
import streamlit as st

from kirchhoff_core import analysis
from kirchhoff_core import trajectories as tj
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import Dataset
from kirchhoff_core.model import KirchhoffNet
from live import ERRORS
from state import TrajectoriesPage
from views import trajectory_views as tv
from views.format import metric_label, metric_text

FRAMES = 40  # frames of the flow animation
SWEEP_FRAMES = 21  # read-out times of the accuracy sweep / boundary animation
GRID_RES = 36  # decision-boundary grid per frame
FLOW_MAX_POINTS = 400  # test points in the flow view


def _flow(page: TrajectoriesPage, model: KirchhoffNet, mkey: tuple, data: Dataset) -> None:
    st.markdown("**Flow: the test set moving through two nodes' voltages**")
    if data.n_features != 2:
        st.caption(f"The flow view is for 2-D inputs; this dataset has {data.n_features} input dimension(s). "
                   "The accuracy sweep on the right works for any dataset.")
        return
    circuit = model.circuit
    options = list(range(1, circuit.max_width + 1))
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
        states = page.memo.get(("flow", mkey, id(data), FRAMES, len(idx)),
                               lambda: tj.batch_states(model, data.x_test[idx], times))
    except ERRORS as e:
        st.error(f"Could not simulate the test set: {e}")
        return
    two_readouts = data.task == "classification" and data.n_outputs == 2 and {ax, ay} == set(circuit.outputs)
    st.plotly_chart(tv.flow_figure(times, states[..., [ax - 1, ay - 1]], np.asarray(data.y_test)[idx], data.task,
                                   (f"v{ax}", f"v{ay}"), "decision line" if two_readouts else None),
                    key="traj_flow", width="stretch")
    st.caption("Each dot is a test point, coloured by its true class. At t = 0 the dots sit at their input "
               "voltages (or at 0 V for nodes that are not inputs); press Play to watch Kirchhoff's law "
               "carry them apart." + (" With the two read-outs as axes, the dashed diagonal is the "
                                       "decision line: above it class 1 wins." if two_readouts else ""))


def _sweep(page: TrajectoriesPage, model: KirchhoffNet, mkey: tuple, data: Dataset) -> None:
    st.markdown("**Read too early, read too late**")
    plane = data.n_features == 2
    times = tj.frame_times(model.t_end, SWEEP_FRAMES)
    try:
        sweep = page.memo.get(("sweep", mkey, id(data), SWEEP_FRAMES),
                              lambda: tj.metric_vs_readout_time(model, data, times, split="test"))
        outs, grid = None, None
        if plane:
            grid = analysis.input_grid(data, GRID_RES)
            outs = page.memo.get(("boundary", mkey, id(data), SWEEP_FRAMES, GRID_RES),
                                 lambda: tj.boundary_at_times(model, grid, times, data.task))
    except ERRORS as e:
        st.error(f"Could not evaluate the read-out times: {e}")
        return
    fig = tv.sweep_figure(times, grid.xs if grid else None, grid.ys if grid else None, outs, data.task,
                          sweep.metric, sweep.metric_name, data.x_test, data.y_test, model.boundaries,
                          t_readout=model.t_end)
    st.plotly_chart(fig, key="traj_sweep", width="stretch")
    t_best, m_best = sweep.best
    name = metric_label(sweep.metric_name)
    s1, s2 = st.columns(2)
    s1.metric(f"Test {name} at T = {model.t_end:g}", metric_text(sweep.metric[-1], sweep.metric_name))
    s2.metric("Best read-out time", f"t = {t_best:.3g}", help=f"test {name} there: {metric_text(m_best, sweep.metric_name)}")
    if not plane:
        st.caption(f"The decision-boundary animation needs 2-D inputs; this dataset has {data.n_features}.")
    st.caption("The circuit is trained to be read at T. Reading earlier would make the chip faster; the curve "
               "shows what that would cost (or whether the answer was already there).")


def test_set(page: TrajectoriesPage, model: KirchhoffNet, mkey: tuple, data: Dataset | None) -> None:
    st.divider()
    st.subheader("The whole test set over time")
    if data is None:
        st.info("These views need a dataset that matches the circuit's input and read-out nodes.")
        return
    flow_col, sweep_col = st.columns(2, gap="medium")
    with flow_col:
        _flow(page, model, mkey, data)
    with sweep_col:
        _sweep(page, model, mkey, data)
