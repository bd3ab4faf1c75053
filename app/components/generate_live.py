"""Generate page drawings: the live metrics, densities and curves (drawn every tick from the run's
latest snapshot, whose densities and samples were computed in the session's worker), and the flow
animation with the running slice's vector field (computed there on request). As on Train, the charts
are built once per drawing (``GeneratePage.figures``) and re-sent unchanged in between."""

from __future__ import annotations

import numpy as np
import streamlit as st

from components import generate_model as gm
from components import guard_rails
from components.live_chart import live_chart
from kirchhoff_core import analysis
from kirchhoff_core import flow_analysis as fa
from kirchhoff_core import live_views as lv
from kirchhoff_core.densities import sample_target
from kirchhoff_core.generative import flow_preset
from kirchhoff_core.target_density import target_entropy
from kirchhoff_core.workers import Snapshot
from live import ERRORS
from settings import EVAL_EVERY, EVAL_SIZE
from state import GeneratePage, bound
from views import generate_views as gv


@st.cache_data(show_spinner=False, max_entries=32)
def _target(task: str, name: str, resolution: int, box: float):
    xs, ys, p = fa.target_density_grid(task, name, resolution, box)
    samples = sample_target(name, gm.N_SAMPLES, 1) if task == "generate" else None
    return xs, ys, p, samples


def _metrics(g: GeneratePage, snap: Snapshot, view: lv.FlowView | None) -> None:
    s, evals, name = g.settings, g.evals, gm.metric_name(g)
    hist = snap.history
    last, prev = (hist[-1] if hist else None), (hist[-2] if len(hist) > 1 else None)
    m = st.columns(5)
    m[0].metric("Step", snap.steps_done)
    m[1].metric(f"Batch {name}", "—" if last is None else f"{last.train_loss:.4f}",
                delta=None if prev is None else f"{last.train_loss - prev.train_loss:+.4f}", delta_color="inverse")
    m[2].metric(f"Held-out {name}", f"{evals[-1][1]:.4f}" if evals else "—",
                help=f"On {EVAL_SIZE} fixed {'held-out samples' if s.task == 'generate' else 'noise draws'}, "
                     f"every {EVAL_EVERY} steps" + (f" (last at step {evals[-1][0]})" if evals else ""))
    preset = flow_preset(s.name)
    if s.task == "generate":
        floor = (f"The lowest NLL any model can reach on fresh samples is this target's entropy, "
                 f"{target_entropy(s.name):.3f} nats (the red line below).")
        m[3].metric("Paper's final NLL", "—" if preset.reference_nll is None else f"{preset.reference_nll:.3f}",
                    help="The reference released no number for this target. " + floor if preset.reference_nll is None
                    else f"Training NLL of the released run ({preset.reference_steps:,} steps on "
                         f"{preset.reference_points or 'its'} fixed points, {preset.source}). " + floor)
    else:
        m[3].metric("log Z", "—" if view is None else f"{view.log_z:.3f}",
                    help=f"log of the normaliser of exp(−{s.name}) on the [−4, 4]² box; the KL estimate includes it, "
                         "so a perfect fit scores 0")
    m[4].metric("NFE/step", f"{last.nfe_forward + last.nfe_backward}" if last else "—",
                help="Right-hand-side evaluations of the last step, forward and backward")


def draw(g: GeneratePage, snap: Snapshot) -> None:
    """Metrics, the target and model densities side by side, and the curves."""
    if not g.run.active:
        return
    view = snap.drawing if isinstance(snap.drawing, lv.FlowView) else None
    gm.take_view(g, view)
    s, hist = g.settings, snap.history
    _metrics(g, snap, view)
    box = gm.box(s)
    _, _, target_p, target_samples = _target(s.task, s.name, gm.GRID_RES, box)
    problem = view.error if view is not None else (str(snap.drawing) if isinstance(snap.drawing, Exception) else None)
    if problem:
        st.error(f"Could not evaluate the model's density: {problem}")
    elif view is not None:
        titles = ("target density" if s.task == "generate" else f"target exp(−{s.name}) / Z",
                  f"model density at step {view.step}", "samples")
        fig = g.figures.get("overview", view, (s.task, s.name, box), lambda: gv.overview_figure(
            view.xs, view.ys, target_p, view.logp, view.samples, box, target_samples, titles))
        live_chart(fig, "gen_overview")
    if g.eval0_problem and snap.steps_done == 0:
        st.error(g.eval0_problem)
    if not hist:
        st.caption(f"Press Play or Step to train; the batch and held-out {gm.metric_name(g)} appear here.")
        return
    ev = np.array(g.evals, dtype=float).reshape(-1, 2)
    generate = s.task == "generate"
    preset = flow_preset(s.name)
    reference, floor = (preset.reference_nll, target_entropy(s.name)) if generate else (None, None)
    curves = g.figures.get("curves", view, (s.task, s.name, len(g.evals)), lambda: gv.curves_figure(
        np.array([r.step for r in hist]), np.array([r.train_loss for r in hist]), ev[:, 0], ev[:, 1],
        "nll" if generate else "kl", reference, view.baseline_nll if generate and view is not None else None, floor,
        reference_points=preset.reference_points))
    live_chart(curves, "gen_curves")
    note = gv.paper_note(reference, floor, preset.reference_points)
    if note:
        st.caption(note)
    guard_rails.loss_hint(hist, lambda lr: gm.set_lr(g, lr), "gen_loss_hint")
    warning = analysis.solver_health(hist[-1], 1, s.solver().max_nfe).warning
    if warning:
        st.warning("Solver health: " + warning)


def _want_animation(g: GeneratePage) -> None:
    g.want_animation = True


def _animation(g: GeneratePage, box: float, key: int) -> None:
    steps = g.run.steps_done
    if (g.auto_animate or g.want_animation) and not g.playing:
        g.auto_animate = g.want_animation = False
        try:
            with st.spinner("Integrating the flow frame by frame…"):
                g.animation = (key, gv.flow_animation_figure(**gm.animation_data(g, box)), steps)
        except (*ERRORS, TimeoutError) as e:
            st.error(f"Could not animate the flow: {e}")
    anim = g.animation
    label = "Animate the flow" if anim is None else f"Update the animation (step {steps})"
    st.button(label, key="gen_animate", icon=":material/animation:", on_click=_want_animation, args=(g,),
              disabled=g.playing or not (anim is None or anim[0] != key),
              help=f"Carry {gm.N_FLOW_POINTS} Gaussian samples through the circuit and compute the density at "
                   f"{gm.ANIM_FRAMES} times (a few seconds)")
    if anim is None:
        st.caption("Press **Animate the flow** to watch samples travel from the Gaussian to the model, "
                   "with the density morphing underneath.")
        return
    st.caption(f"Samples (orange) flow from N(0, I) at t = 0 to the model at T = {g.circuit.t_end:g}; "
               "underneath, the density p_t morphs; the arrows are dv/dt of the slice running at that "
               f"moment. Press Play under the plot. Made at step {anim[2]}"
               + ("" if anim[0] == key else " (the model has changed since)") + ".")
    st.plotly_chart(anim[1], key="gen_animation", width="stretch")


def _field(g: GeneratePage, box: float) -> None:
    n_slices = len(g.circuit.slices)
    k = 1
    if n_slices > 1:
        k = bound(st.select_slider, "Slice", list(range(1, n_slices + 1)), key="gen_field_slice",
                  value=g.field_slice if g.field_slice <= n_slices else 1, on_set=lambda v: setattr(g, "field_slice", int(v)))
    try:
        (fxs, fys, u, v), (t0, t1) = g.run.call(lv.vector_field, k - 1, 21, box)
        st.plotly_chart(gv.vector_field_figure(fxs, fys, u, v, box, f"dv/dt of slice {k} (t = {t0:g} to {t1:g})",
                                               gm.density_at_t(g)), key="gen_field", width="stretch")
        st.caption("Within a slice the circuit is autonomous, so this field moves every sample while the "
                   "slice runs; the background is the model's density at T.")
    except (*ERRORS, TimeoutError) as e:
        st.error(f"Could not evaluate the vector field: {e}")


def flow_section(g: GeneratePage) -> None:
    st.divider()
    st.subheader("The flow")
    if not g.run.active:
        return
    if g.run.snapshot().state == "starting":  # the views below ask the worker; the page must not wait for it
        st.caption("The flow appears here as soon as this session's training worker has started.")
        return
    box = gm.box(g.settings)
    col_anim, col_field = st.columns([1.6, 1], gap="medium")
    with col_anim:
        _animation(g, box, g.run.version)
    with col_field:
        _field(g, box)
