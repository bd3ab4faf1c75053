"""Train page, live part: metrics, the decision boundary (or regression fit), every node's voltage
at T, the curves and the solver's health, drawn from the run's latest snapshot (its numbers were
computed next to the trainer, in its worker) by the play controller's fragment every tick.

The counters follow every tick; the charts are built once per drawing (``state.DRAW_EVERY_S``) and
re-sent unchanged in between, which the browser does not draw again: on a class server every
playing session's charts cost the server a rebuild and its browser a redraw. The node maps are one
PNG (``views.node_maps``), not a plotly figure: a fraction of the cost on both sides."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from bookkeeping import PerDrawing
from components import guard_rails, train_controls
from components.live_chart import live_chart
from kirchhoff_core import analysis
from kirchhoff_core.circuit import node_role
from kirchhoff_core.datasets import Dataset
from kirchhoff_core.live_views import SupervisedView
from kirchhoff_core.workers import Snapshot
from state import CUSTOM, Session
from views import node_maps
from views import train_views as tv
from views.format import metric_label, metric_text


def _roles(c) -> list[str]:
    """Short role labels per node: in, out k (class or target k), hidden."""
    out = []
    for n in range(1, c.width(len(c.slices) - 1) + 1):
        r = node_role(n, c.inputs, c.outputs).replace("input", "in")
        if n in c.outputs:
            r = r.replace("output", f"out {c.outputs.index(n)}")
        out.append(r)
    return out


def _metrics(snap: Snapshot, data: Dataset) -> None:
    hist = snap.history
    last = hist[-1] if hist else None
    prev = hist[-2] if len(hist) > 1 else None
    m = st.columns(4)
    m[0].metric("Epoch", snap.steps_done)
    name = f"Test {metric_label('accuracy' if data.task == 'classification' else 'r2')}"
    if last is None:
        for col, label in zip(m[1:], ("Train loss", "Test loss", name)):
            col.metric(label, "—")
        return
    for col, label, now, before in ((m[1], "Train loss", last.train_loss, prev and prev.train_loss),
                                    (m[2], "Test loss", last.test_loss, prev and prev.test_loss)):
        col.metric(label, f"{now:.4f}", delta=None if prev is None else f"{now - before:+.4f}", delta_color="inverse")
    m[3].metric(name, metric_text(last.test_metric, last.metric))
    if not np.isfinite(last.train_loss):
        st.warning("The loss is not finite: the circuit's outputs overflowed. Lower the learning rate or T, "
                   "or press Reset.")


def _output_figure(data: Dataset, view: SupervisedView, show_test: bool, discretise: bool):
    x_te, y_te = (data.x_test, data.y_test) if show_test else (None, None)
    xs, ys, pred, title = view.xs, view.ys, view.pred, f"epoch {view.step}"
    if view.kind == "plane" and data.task == "classification":
        return tv.boundary_figure(xs, ys, pred, data.x_train, data.y_train, x_te, y_te, discretise, title)
    if view.kind == "plane":
        return tv.regression_surface_figure(xs, ys, pred, data.x_train, data.y_train, x_te, y_te, title)
    return tv.regression_curve_figure(xs, pred, data.x_train, data.y_train, x_te, y_te, title)


def _output_chart(figures: PerDrawing, data: Dataset, view: SupervisedView | None, show_test: bool,
                  discretise: bool) -> None:
    if data.n_features > 2:
        st.caption(f"The inputs have {data.n_features} dimensions, so there is no input plane to draw; "
                   "watch the curves.")
        return
    if view is None or view.kind is None:
        return
    fig = figures.get("output", view, (show_test, discretise),
                      lambda: _output_figure(data, view, show_test, discretise))
    live_chart(fig, "train_output_chart")


def _health(last, steps: int, cap: int) -> None:
    health = analysis.solver_health(last, steps, cap)
    h = st.columns(4)
    h[0].metric("NFE/step forward", f"{health.nfe_forward_per_step:.0f}")
    h[1].metric("NFE/step backward", f"{health.nfe_backward_per_step:.0f}",
                help="0 without the adjoint: gradients go straight through the solver's steps")
    h[2].metric("Rejected steps", health.rejected_steps, help="Adaptive steps the error control threw away")
    h[3].metric("Largest solve", f"{health.max_nfe_per_solve} NFE", help=f"The cap is {health.cap} per solve")
    if health.warning:
        st.warning("Solver health: " + health.warning)


def draw(session: Session, snap: Snapshot) -> None:
    data = session.data
    if not session.train.run.active or data is None:
        if session.data is None and session.config.dataset == CUSTOM:
            st.info("Draw or upload your own points below (at least 10, two or more classes).")
        return
    hist, figures = snap.history, session.train.figures
    _metrics(snap, data)
    opts = st.columns(2)
    show_test = opts[0].toggle("Show test points", value=True, key="train_show_test")
    discretise = opts[1].toggle("Discretise output", value=False, key="train_discretise",
                                disabled=data.task != "classification")
    view = snap.drawing if isinstance(snap.drawing, SupervisedView) else None
    problem = view.error if view is not None else (str(snap.drawing) if isinstance(snap.drawing, Exception) else None)
    if problem:
        st.error(f"Could not evaluate the circuit over the input plane: {problem}")
    steps = analysis.steps_per_epoch(len(data.x_train), session.config.batch_size)
    left, right = st.columns([1.1, 1])
    with left:
        _output_chart(figures, data, view, show_test, discretise)
    with right:
        if hist:
            curves = figures.get("curves", snap.drawing, steps,
                                 lambda: tv.curves_figure(analysis.history_series(hist, steps), hist[-1].metric))
            live_chart(curves, "train_curves")
            guard_rails.loss_hint(hist, partial(train_controls.set_lr, session), "train_loss_hint", "epoch")
        else:
            st.caption("Press Play or Step to start training; loss, accuracy and solver work appear here.")
    if view is not None and view.kind == "plane":
        cap, own_col = st.columns([3, 1], vertical_alignment="center")
        own = own_col.toggle("Scale each node on its own", value=False, key="train_node_scale",
                             help="Off: one colour scale for all nodes (compare sizes). On: each node's map "
                                  "spans its own range, so a node with a small swing still shows its pattern")
        cap.caption("Every node's voltage at T over the input plane (orange negative, blue positive; x1 across, "
                    "x2 up)" + ("; each map scaled to its own largest |v|, given in its title" if own else ""))
        maps = figures.get("nodes", view, own,
                           lambda: node_maps.draw(view.volts, _roles(view.circuit), shared=not own))
        st.image(maps.png, width="content")
    elif view is not None and view.kind == "line":
        st.caption("Every node's voltage at T against the input")
        nfig = figures.get("nodes", view, False,
                           lambda: tv.node_curves_figure(view.xs, view.volts, _roles(view.circuit)))
        st.plotly_chart(nfig, key="train_nodes_chart", width="stretch")
    if hist:
        _health(hist[-1], steps, session.config.solver_config().max_nfe)
