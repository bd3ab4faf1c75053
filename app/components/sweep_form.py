"""Sweep page, what to run: the teaching presets, the form that defines a sweep, Start / Stop, and
the saved sweeps to reopen. Widgets are bound to ``session.sweep.settings``; the sweep itself runs
in a background process (``kirchhoff_core.sweeps.SweepProcess``), never in this server."""

from __future__ import annotations

import pathlib
import time

import streamlit as st

from kirchhoff_core.datasets import DATASETS
from kirchhoff_core.densities import POTENTIALS, TARGETS
from kirchhoff_core.sweeps import PRESETS, SEARCHES, SweepError, SweepProcess, SweepSpec, load_sweep
from kirchhoff_core.sweeps.runner import check_reachable
from kirchhoff_core.sweeps.space import label
from state import SweepPage, bound
from sweep_settings import DEFAULT_DATASET, RANGE, TASKS, VALUES, SweepSettings, cli_command, saved_sweeps

STOP_GRACE_S = 30.0  # after Stop, the driver has this long to shut down before it is ended
TARGET_NAMES = {"supervised": list(DATASETS), "generate": list(TARGETS), "density": list(POTENTIALS)}


# --- starting and stopping (callbacks: they run before the script) ---------------------------------

def job_running(page: SweepPage) -> bool:
    return page.job is not None and page.job.alive


def launch(page: SweepPage, spec: SweepSpec, name: str) -> None:
    """Start (or resume) ``spec`` in the folder ``name`` under the root, in the background."""
    s = page.settings
    if job_running(page):
        page.messages.error(f"Your sweep {page.job.folder.name} is still running: stop it first (one sweep at a "
                            "time per session).")
        return
    folder = pathlib.Path(page.root) / name
    try:
        address = s.address.strip()
        if address:
            check_reachable(address)  # at most 5 s: a wrong address fails here, not in the background
        job = SweepProcess.start(spec, folder, address=address or None, workers=None if address else s.workers,
                                 serial=s.serial)
    except SweepError as e:
        page.messages.error(f"The sweep cannot start: {e}")
        return
    except OSError as e:
        page.messages.error(f"The sweep folder {folder} cannot be written: {e}")
        return
    page.job, page.stop_asked, page.pick = job, None, None
    page.link.name = name


def start(page: SweepPage) -> None:
    try:
        spec, name = page.settings.spec(), page.settings.folder_name()
    except (SweepError, ValueError) as e:
        page.messages.error(f"The sweep cannot start: {e}")
        return
    launch(page, spec, name)


def start_preset(page: SweepPage, name: str) -> None:
    """A lesson: show it if it ran before (or is running), else run it; the form takes its set-up."""
    preset, s = PRESETS[name], page.settings
    spec, folder_name = preset.spec(), f"lesson-{name}"
    page.settings = SweepSettings.from_spec(spec, serial=s.serial, workers=s.workers, address=s.address)
    try:
        done = load_sweep(pathlib.Path(page.root) / folder_name).state in ("finished", "running")
    except SweepError:
        done = False
    if done:
        page.link.name, page.pick = folder_name, None
        return
    launch(page, spec, folder_name)


def stop(page: SweepPage) -> None:
    if page.job is not None and page.job.interrupt():
        page.stop_asked = time.monotonic()


def follow_stop(page: SweepPage) -> None:
    """A driver that ignored Stop for ``STOP_GRACE_S`` is ended (terminate, then kill: ~10 s at most)."""
    if page.stop_asked is not None and job_running(page) and time.monotonic() - page.stop_asked > STOP_GRACE_S:
        page.job.stop(timeout_s=0.5)


def open_saved(page: SweepPage, name: str | None) -> None:
    if name:
        page.link.name, page.pick = name, None


# --- the presets --------------------------------------------------------------------------------------

def presets(page: SweepPage) -> None:
    st.markdown("**Teaching presets** — one click runs a small sweep that shows one lesson (under two minutes).")
    cols = st.columns(len(PRESETS))
    for col, (name, preset) in zip(cols, PRESETS.items()):
        with col.container(border=True, height="stretch", vertical_alignment="distribute"):
            st.markdown(f"**{preset.title}**")
            spec = preset.spec()
            swept = "; ".join(f"{n} = {', '.join(map(label, d.values))}" for n, d in spec.space.dimensions.items())
            st.caption(f"{spec.datasets()[0]} · {swept} · {spec.n_trials} trials × {spec.epochs} epochs")
            st.button("Run this lesson", key=f"sweep_preset_{name}", on_click=start_preset, args=(page, name),
                      icon=":material/school:", disabled=job_running(page), width="stretch")


# --- the form ---------------------------------------------------------------------------------------------

def _set(s: SweepSettings, attr: str):
    return lambda v: setattr(s, attr, v)


def _set_task(s: SweepSettings, task: str) -> None:
    s.task, s.dataset = task, DEFAULT_DATASET[task]
    s.names = [n for n in s.names if n in s.catalogue()]
    s.dims = {n: d for n, d in s.dims.items() if n in s.names}


def _dimension(s: SweepSettings, name: str) -> None:
    hyper, d = s.catalogue()[name], s.dimension(name)
    key, ranged = f"sweep_dim_{name}", hyper.numeric and d.mode == RANGE
    widths = [1.3, 1.3, 1, 1, 0.7, 1] if ranged else [1.3, 1.3, 3.7] if hyper.numeric else [1.3, 5.0]
    row = st.columns(widths, vertical_alignment="bottom")
    row[0].markdown(f"**{name}**", help=hyper.help)
    wide = row[-1]  # the values (a list of numbers, or the chosen names)
    if hyper.choices or hyper.type is bool:
        options = ["true", "false"] if hyper.type is bool else [str(c) for c in hyper.choices]
        bound(wide.multiselect, "values", options, key=f"{key}_chosen", value=[c for c in d.chosen if c in options],
              on_set=_set(d, "chosen"))
        return
    if not hyper.numeric:
        bound(wide.text_input, "values (comma-separated)", key=f"{key}_text", value=d.text, on_set=_set(d, "text"),
              help="list-valued settings use / inside a value, e.g. 1/1, 2/2")
        return
    bound(row[1].radio, "how", [RANGE, VALUES], key=f"{key}_mode", value=d.mode, on_set=_set(d, "mode"),
          horizontal=True)
    if not ranged:
        bound(wide.text_input, "values (comma-separated)", key=f"{key}_text", value=d.text, on_set=_set(d, "text"))
        return
    bound(row[2].number_input, "low", key=f"{key}_low", value=float(d.low), on_set=_set(d, "low"), format="%g")
    bound(row[3].number_input, "high", key=f"{key}_high", value=float(d.high), on_set=_set(d, "high"), format="%g")
    bound(row[4].checkbox, "log", key=f"{key}_log", value=d.log, on_set=_set(d, "log"), help="log-uniform range")
    bound(row[5].number_input, "grid points", 0, 100, key=f"{key}_points", value=int(d.points),
          on_set=_set(d, "points"), help="0: any value in the range (random / Optuna); grid search needs a count")


def define(page: SweepPage) -> SweepSpec | None:
    """The form; returns the sweep it describes, or None (with the reason shown) when it cannot run."""
    s = page.settings
    top = st.columns([1.5, 1.2, 1, 0.9, 0.9, 0.9])
    bound(top[0].selectbox, "Task", list(TASKS), key="sweep_task", value=s.task, on_set=lambda v: _set_task(s, v),
          format_func=TASKS.get)
    bound(top[1].selectbox, "Data set" if s.task == "supervised" else "Target", TARGET_NAMES[s.task],
          key="sweep_dataset", value=s.dataset, on_set=_set(s, "dataset"))
    bound(top[2].selectbox, "Search", list(SEARCHES), key="sweep_search", value=s.search, on_set=_set(s, "search"),
          help="grid: every combination once; random: draws from the space; optuna: TPE proposes from the results")
    bound(top[3].number_input, "Trials", 1, None, key="sweep_trials", value=int(s.trials), on_set=_set(s, "trials"),
          disabled=s.search == "grid", help="a grid runs each of its points once")
    bound(top[4].number_input, "Epochs", 1, None, key="sweep_epochs", value=int(s.epochs), on_set=_set(s, "epochs"),
          help="per trial" + ("" if s.task == "supervised" else " (of 25 optimiser steps each)"))
    bound(top[5].number_input, "Seed", 0, 2**32 - 1, key="sweep_seed", value=int(s.seed), on_set=_set(s, "seed"))
    catalogue = s.catalogue()
    known = [n for n in s.names if n in catalogue]  # an unknown name is reported by ``spec()`` below
    bound(st.multiselect, "Hyperparameters to sweep", list(catalogue), key="sweep_names", value=known,
          on_set=_set(s, "names"), format_func=lambda n: f"{n} — {catalogue[n].help}",
          help="Anything not swept keeps the data set's default set-up (the Train page's defaults)")
    for name in known:
        _dimension(s, name)
    es = st.columns([1.4, 1, 1, 2.2], vertical_alignment="bottom")
    bound(es[0].toggle, "Early stopping (ASHA)", key="sweep_asha", value=s.asha and not s.serial,
          on_set=_set(s, "asha"), disabled=s.serial, help="Stop trials that trail the others at epochs 1, 2, 4, ...")
    bound(es[1].number_input, "grace period", 1, None, key="sweep_grace", value=int(s.grace_period),
          on_set=_set(s, "grace_period"), disabled=not s.asha or s.serial, help="epochs before a trial can be stopped")
    bound(es[2].number_input, "reduction factor", 2, 16, key="sweep_reduction", value=int(s.reduction_factor),
          on_set=_set(s, "reduction_factor"), disabled=not s.asha or s.serial, help="keep the best 1/F at each rung")
    with st.expander("Where it runs, data size, chips, folder"):
        adv = st.columns(3)
        bound(adv[0].toggle, "Without Ray (one trial after another)", key="sweep_serial", value=s.serial,
              on_set=_set(s, "serial"), help="No Ray start-up, no parallel trials, no early stopping")
        bound(adv[0].number_input, "Trials at once", 1, 256, key="sweep_workers", value=int(s.workers),
              on_set=_set(s, "workers"), disabled=s.serial, help="Default: all cores but one")
        bound(adv[1].number_input, "Samples", 10, None, key="sweep_samples", value=int(s.samples),
              on_set=_set(s, "samples"), disabled=s.task != "supervised", help="data set size")
        bound(adv[1].number_input, "Simulated chips per finished trial", 0, None, key="sweep_chips",
              value=int(s.chips), on_set=_set(s, "chips"), disabled=s.task != "supervised",
              help="accuracy on chips at 5 % device mismatch; 0 = off")
        bound(adv[2].text_input, "Ray cluster address", key="sweep_address", value=s.address, on_set=_set(s, "address"),
              placeholder="empty: this machine", disabled=s.serial, help="HOST:PORT of `ray start --head`")
        bound(adv[2].text_input, "Folder name", key="sweep_name", value=s.name, on_set=_set(s, "name"),
              placeholder="empty: data set, names and time", help=f"under {page.root}")
    try:
        spec = s.spec()
        folder = pathlib.Path(page.root) / s.folder_name()
    except (SweepError, ValueError) as e:
        st.error(str(e))
        return None
    for note in spec.notes():
        st.warning(note)
    st.caption(f"{spec.n_trials} trial(s) × {spec.epochs} epoch(s), objective {spec.objective_label} "
               f"({'higher' if spec.mode == 'max' else 'lower'} is better). The same from a shell:")
    st.code(cli_command(spec, folder, s.serial, s.address.strip()), language="bash", wrap_lines=True)
    return spec


def start_bar(page: SweepPage, spec: SweepSpec | None) -> None:
    st.button("Start", key="sweep_start", on_click=start, args=(page,), type="primary", icon=":material/play_arrow:",
              disabled=spec is None or job_running(page),
              help="Runs in the background: you can leave the page and come back")
    if job_running(page):
        st.caption(f"Your sweep **{page.job.folder.name}** is running; stop it (below) to start another.")


def saved(page: SweepPage) -> None:
    names = saved_sweeps(page.root)
    if not names:
        st.caption(f"No saved sweeps in {page.root} yet.")
        return
    row = st.columns([3, 1], vertical_alignment="bottom")
    pick = row[0].selectbox("Saved sweeps (newest first)", names, key="sweep_saved",
                            index=names.index(page.link.name) if page.link.name in names else 0)
    row[1].button("Open", key="sweep_open", on_click=lambda: open_saved(page, pick), icon=":material/folder_open:",
                  width="stretch")
