"""Sweep page, one trial: the best trial's decision boundary (or, for a generative sweep, its density
beside the target's), "Open in Train" for any trial with a saved circuit, the command that re-trains
it, and the whole sweep as a download. The core computes (``analysis``, ``flow_analysis``); the
Train and Generate views draw; results are kept in the page's memo per trial and update."""

from __future__ import annotations

import streamlit as st

import state
from kirchhoff_core import analysis
from kirchhoff_core import flow_analysis as fa
from kirchhoff_core.generative import CircuitFlow
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverError
from kirchhoff_core.sweeps import SweepError, SweepState, TrialRecord, load_trial, sweep_archive, train_command
from kirchhoff_core.sweeps.space import label
from state import Session, bound
from views import generate_views as gv
from views import sweep_views as sv
from views import train_views as tv

GRID_RES = 40
FLOW_SAMPLES = 500


def _supervised_figure(trial, title: str):
    data = trial.dataset()
    model = KirchhoffNet(trial.circuit, trial.solver_config())
    if data.n_features == 2:
        grid = analysis.input_grid(data, GRID_RES)
        pred, _ = analysis.snapshot_grid(model, grid, data.task)
        draw = tv.boundary_figure if data.task == "classification" else tv.regression_surface_figure
        return draw(grid.xs, grid.ys, pred, data.x_train, data.y_train, data.x_test, data.y_test, title=title)
    if data.n_features == 1:
        xs = analysis.input_line(data, 200)
        pred, _ = analysis.snapshot(model, xs, data.task)
        return tv.regression_curve_figure(xs, pred, data.x_train, data.y_train, data.x_test, data.y_test, title)
    return None


def _flow_figure(trial, title: str):
    task, target = trial.settings["task"], trial.settings["dataset"]["name"]
    flow = CircuitFlow(trial.circuit, trial.solver_config())
    box = fa.plot_box(task, target)
    xs, ys, target_p = fa.target_density_grid(task, target, GRID_RES, box)
    _, _, logp = fa.log_density_grid(flow, GRID_RES, box)
    samples = flow.sample(FLOW_SAMPLES, seed=1).detach().cpu().numpy()
    return gv.overview_figure(xs, ys, target_p, logp, samples, box,
                              titles=(f"target: {target}", f"{title}: density", f"{title}: samples"))


def best_figure(folder, best: TrialRecord):
    """The best trial's decision boundary / regression fit / density (None: no input plane to draw)."""
    trial = load_trial(folder, best.index)
    title = f"best trial {best.index}"
    if trial.settings["task"] == "supervised":
        return _supervised_figure(trial, title)
    return _flow_figure(trial, title)


def _describe(t: TrialRecord, spec) -> str:
    params = ", ".join(f"{k}={label(v)}" for k, v in t.params.items())
    value = sv.objective_text(t.objective, spec.objective_label)
    return f"trial {t.index} · {sv.state_label(t.state)} · {spec.objective_label} {value} · {params}"


def _open(session: Session, sweep: SweepState, index: int) -> None:
    try:
        trial = load_trial(sweep.folder, index)
        path = state.open_trial(session, trial, f"trial {index} of the sweep {sweep.folder.name}")
    except (SweepError, ValueError, KeyError) as e:
        st.error(f"Trial {index} cannot be opened: {e}")
        return
    st.switch_page(path)


def _best(session: Session, sweep: SweepState) -> None:
    best = sweep.best()
    if best is None:
        st.caption("The best trial's picture appears once a trial has finished.")
        return
    page = session.sweep
    key = ("best", str(sweep.folder), best.index, best.updated, best.state)
    try:
        fig = page.memo.get(key, lambda: best_figure(sweep.folder, best))
    except (SweepError, SolverError, ValueError, RuntimeError) as e:
        st.warning(f"The best trial ({best.index}) cannot be drawn: {e}")
        return
    what = "density" if sweep.spec.task != "supervised" else "decision boundary"
    params = ", ".join(f"{k}={label(v)}" for k, v in best.params.items())
    st.markdown(f"**The best trial's {what}** — trial {best.index}, {sweep.spec.objective_label} "
                f"{sv.objective_text(best.objective, sweep.spec.objective_label)} ({params})")
    if fig is None:
        st.caption("Its inputs have more than two dimensions, so there is no input plane to draw.")
    else:
        st.plotly_chart(fig, key="sweep_best_chart", width="stretch")


def best_and_open(session: Session, sweep: SweepState) -> None:
    page = session.sweep
    left, right = st.columns([1.5, 1], gap="medium")
    with left:
        _best(session, sweep)
    with right:
        trials = {t.index: t for t in sweep.sorted_trials() if t.epochs}
        if not trials:
            return
        best = sweep.best()
        pick = page.pick if page.pick in trials else (best.index if best is not None else next(iter(trials)))
        where = "Generate" if sweep.spec.task != "supervised" else "Train"
        st.markdown(f"**Open a trial in {where}**")
        chosen = bound(st.selectbox, "Trial", list(trials), key="sweep_pick", value=pick,
                       on_set=lambda v: setattr(page, "pick", v),
                       format_func=lambda i: _describe(trials[i], sweep.spec))
        if st.button(f"Open in {where}", key="sweep_open_trial", type="primary", icon=":material/open_in_new:",
                     help=f"Load the trial's trained circuit, data set and hyperparameters into the {where} page"):
            _open(session, sweep, chosen)
        try:
            st.caption("Re-train it from a shell (same data, circuit and seed):")
            st.code(train_command(load_trial(sweep.folder, chosen).settings, out=f"runs/trial-{chosen}"),
                    language="bash", wrap_lines=True)
        except SweepError:
            pass
        st.download_button("Download the sweep (zip: CSV + circuits)", data=lambda: sweep_archive(sweep.folder),
                           file_name=f"{sweep.folder.name}.zip", mime="application/zip", on_click="ignore",
                           key="sweep_download", icon=":material/download:",
                           help="table.csv, curves.csv and every trial's config, record and circuit JSON")
