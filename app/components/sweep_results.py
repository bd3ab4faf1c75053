"""Sweep page, the sweep shown: its status (with Stop), the lesson of a teaching preset, the table of
trials, every learning curve, the parallel-coordinates and scatter plots, and the best trial. While
the sweep runs, a timed fragment re-reads its folder (``load_sweep``) every ``POLL_S`` seconds; the
sweep itself runs in its own process, so nothing here waits for it."""

from __future__ import annotations

import math
import pathlib

import pandas as pd
import streamlit as st

from components import sweep_form, sweep_trial
from kirchhoff_core.sweeps import SweepError, SweepState, load_sweep, preset_of
from kirchhoff_core.sweeps.records import SWEEP_FILE
from state import Session, SweepPage, bound
from views import sweep_views as sv

POLL_S = 2.0


def _log_names(sweep: SweepState) -> set[str]:
    """Hyperparameters drawn on a log axis: log ranges, and positive values spanning 100x or more."""
    out = set()
    for name, d in sweep.spec.space.dimensions.items():
        values = [d.low, d.high] if d.is_range else list(d.values)
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if d.log or (len(numbers) == len(values) > 1 and min(numbers) > 0 and max(numbers) / min(numbers) >= 100):
            out.add(name)
    return out


def _status(page: SweepPage, sweep: SweepState, ours: bool, running: bool) -> None:
    spec, c = sweep.spec, sweep.counts()
    where = "" if not running else " — running in the background" + ("" if ours else " (started elsewhere)")
    st.subheader(f"Sweep {sweep.folder.name}{where}")
    st.caption(f"{spec.search} search over {', '.join(spec.space.describe())} on {', '.join(spec.datasets())}; "
               f"{spec.n_trials} trial(s) × {spec.epochs} epoch(s); early stopping {spec.early_stopping}; objective "
               f"{spec.objective_label} ({'higher' if spec.mode == 'max' else 'lower'} is better). Folder: "
               f"{sweep.folder}")
    done = c["finished"] + c["stopped"] + c["failed"]
    m = st.columns([1, 1, 1, 1, 1, 1.4, 1.2], vertical_alignment="center")
    for col, label, key in zip(m, ("finished", "stopped early", "failed", "running", "pending"),
                               ("finished", "stopped", "failed", "running", "pending")):
        col.metric(label, c[key] + (c["interrupted"] if key == "pending" else 0))
    best = sweep.best()
    m[5].metric(f"best {spec.objective_label}", sv.objective_text(None if best is None else best.objective,
                                                                 spec.objective_label),
                help=None if best is None else f"trial {best.index}")
    if ours and running:
        asked = page.stop_asked is not None
        m[6].button("Stopping…" if asked else "Stop", key="sweep_stop", on_click=sweep_form.stop, args=(page,),
                    icon=":material/stop:", disabled=asked, width="stretch",
                    help="Ctrl-C to the sweep: every trial done so far is kept; Start resumes it")
    state = "starting (Ray takes a few seconds)" if sweep.state == "new" else sweep.state
    st.progress(done / max(1, spec.n_trials), text=f"{done} of {spec.n_trials} trial(s) done · {state}")
    if running and not ours:
        st.caption(f"This sweep was started by another session or from a shell (pid {sweep.status.get('pid')}); "
                   "stop it there.")


def _failure(page: SweepPage, sweep: SweepState) -> None:
    """Why this session's sweep process ended before the sweep did."""
    job = page.job
    if job is None or job.alive or job.returncode == 0 or sweep.state == "finished":
        return
    lines = [ln for ln in job.log_tail().splitlines() if ln.startswith("error:")]
    if job.returncode == 130 or page.stop_asked is not None:
        st.info("Stopped. Every trial done so far is kept; Start (or the same lesson) resumes the rest.")
    else:
        st.error(f"The sweep process ended with status {job.returncode}: "
                 f"{lines[-1][7:] if lines else job.log_tail(400) or 'no message'}")


def _table(sweep: SweepState) -> None:
    rows = sweep.rows()
    frame = pd.DataFrame(rows)
    if frame.empty:
        st.caption("No trials yet: the sweep is starting (Ray takes a few seconds).")
        return
    frame["state"] = frame["state"].map(sv.state_label)
    drop = [c for c in ("chip_metric", "node", "error", "nfe", "parameters") if frame[c].isna().all()]
    if frame["node"].nunique() <= 1:
        drop.append("node")
    frame = frame.drop(columns=sorted(set(drop)))
    label = sweep.spec.objective_label
    number = "percent" if sv.is_percent(label) else "%.4g"
    config = {"objective": st.column_config.NumberColumn(label, format=number),
              "time_s": st.column_config.NumberColumn("time (s)", format="%.1f"),
              "nfe": st.column_config.NumberColumn("NFE"), "parameters": st.column_config.NumberColumn("params"),
              "chip_metric": st.column_config.NumberColumn(f"chip @ {sweep.spec.chip_mismatch:g}", format=number),
              "error": st.column_config.TextColumn("error", width="large")}
    st.dataframe(frame, hide_index=True, column_config=config, width="stretch", key="sweep_table", placeholder="—")


def _charts(page: SweepPage, sweep: SweepState) -> None:
    names = sweep.spec.space.varying() or sweep.spec.space.names
    logs, label, pct = _log_names(sweep), sweep.spec.objective_label, sv.is_percent(sweep.spec.objective_label)
    if page.colour_by not in names:
        page.colour_by = names[0]
    rows, curves = sweep.rows(), sweep.curves()
    left, right = st.columns(2)
    with left:
        bound(st.selectbox, "Colour the curves by", names, key="sweep_colour_by", value=page.colour_by,
              on_set=lambda v: setattr(page, "colour_by", v))
        st.plotly_chart(sv.curves_figure(curves, names, page.colour_by, page.colour_by in logs, label, pct),
                        key="sweep_curves", width="stretch")
        st.caption("Dashed and ending in ✕: stopped early by ASHA; red dotted: failed.")
    with right:
        if any(isinstance(r["objective"], (int, float)) and math.isfinite(r["objective"]) for r in rows):
            st.plotly_chart(sv.parallel_figure(rows, names, logs, label, sweep.spec.mode, pct),
                            key="sweep_parallel", width="stretch")
            st.caption("Drag along an axis to pick the trials that pass through a range.")
        else:
            st.caption("The parallel-coordinates plot appears with the first result.")
    if any(r["objective"] is not None for r in rows):
        st.plotly_chart(sv.scatter_figure(rows, names, logs, label, pct), key="sweep_scatter", width="stretch")


def _draw(session: Session, folder: pathlib.Path, ours: bool, polling: bool) -> None:
    page = session.sweep
    try:
        sweep = load_sweep(folder)
    except SweepError as e:
        st.error(f"The sweep {folder.name} cannot be read: {e}")
        return
    sweep_form.follow_stop(page)
    running = (ours and page.job.alive) or sweep.running
    _status(page, sweep, ours, running)
    if ours:
        _failure(page, sweep)
    preset = preset_of(sweep.spec)
    if preset is not None:
        st.info(f"**{preset.title} — what to notice.** {preset.lesson}", icon=":material/school:")
    _table(sweep)
    if sweep.trials and any(t.epochs for t in sweep.trials):
        _charts(page, sweep)
        sweep_trial.best_and_open(session, sweep)
    if polling and not running:  # it just ended: redraw the whole page (Start, the saved list)
        st.rerun()


def results(session: Session) -> None:
    page = session.sweep
    name = page.link.name
    if not name:
        st.info("No sweep is open. Run a lesson above, define your own sweep and press Start, or open a saved one.")
        return
    folder = pathlib.Path(page.root) / name
    if not (folder / SWEEP_FILE).is_file():
        st.error(f"There is no sweep named {name!r} in {page.root}. It may have been deleted, or the link comes "
                 "from another machine; open one of the saved sweeps instead.")
        return
    ours = page.job is not None and page.job.folder == folder.resolve()
    try:
        polling = (ours and page.job.alive) or load_sweep(folder).running
    except SweepError:
        polling = False

    @st.fragment(run_every=POLL_S if polling else None)
    def panel() -> None:
        _draw(session, folder, ours, polling)

    panel()
