"""Train page data: the dataset column (thumbnails, choice, noise, size, split, seed, CSV upload, the
task and the node roles) and the canvas for the user's own points. The dataset itself is the
session's (``state.ensure_data``); this module only edits its settings and the drawn points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import state
from components import guard_rails, train_controls, train_io
from kirchhoff_core import analysis
from kirchhoff_core.datasets import DATASETS, load_points_csv
from state import CUSTOM, Session, bound
from views import train_views as tv

CANVAS = (-2.5, 2.5)  # drawing area; matches the +-2 span the built-in 2-D sets are scaled to


@st.cache_data(show_spinner=False)
def _thumbnails(selected: str):
    sets = []
    for name, spec in DATASETS.items():
        d = state.cached_dataset(name, min(200, spec.max_samples), None, 0.2, 0)
        sets.append((name, np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test]), spec.task))
    return tv.dataset_thumbnails(sets, selected=selected)


def _set_dataset(session: Session, name: str) -> None:
    session.config.dataset, session.config.noise = name, None
    session.train.run.playing = False


def _set_noise(session: Session, value: float) -> None:
    spec = DATASETS.get(session.config.dataset)
    session.config.noise = None if spec is None or abs(value - spec.default_noise) < 1e-12 else float(value)


def _regenerate(session: Session) -> None:
    session.config.seed = (session.config.seed + 1) % 2**32


def _new_points(session: Session, points: list[tuple[float, float, int]], canvas: bool = False) -> None:
    state.set_points(session, points)
    session.train.editor_version += 1
    if canvas:
        session.train.draw_version += 1


def _dataset_settings(session: Session) -> None:
    config = session.config
    st.plotly_chart(_thumbnails(config.dataset), key="train_thumbs", config={"displayModeBar": False}, width="stretch")
    bound(st.radio, "Dataset", list(DATASETS) + [CUSTOM], key="train_dataset", value=config.dataset,
          on_set=lambda v: _set_dataset(session, v), horizontal=True,
          format_func=lambda n: "your own points" if n == CUSTOM else n)
    if config.dataset != CUSTOM:
        spec = DATASETS[config.dataset]
        st.caption(spec.description)
        noise = spec.default_noise if config.noise is None else config.noise
        bound(st.slider, "Noise", 0.0, max(0.5, 3 * spec.default_noise, float(noise)), key="train_noise",
              value=float(noise), on_set=lambda v: _set_noise(session, v), step=0.01)
        guard_rails.number(st, "Samples", 10, spec.max_samples, step=50, key="train_n", value=int(config.n_samples),
                           on_set=train_controls.setter(session, "n_samples"), messages=session.train.messages)
    bound(st.slider, "Test fraction", 0.05, 0.9, step=0.05, key="train_test", value=float(config.test_fraction),
          on_set=train_controls.setter(session, "test_fraction"))
    bound(st.number_input, "Seed", 0, 2**32 - 1, key="train_seed", value=int(config.seed), on_set=train_controls.setter(session, "seed"))
    st.button("Regenerate", key="train_regen", on_click=_regenerate, args=(session,), help="New random draw (seed + 1)",
              width="stretch")
    upload = train_io.new_upload(session, "Upload points (CSV with columns x1, x2, label)", ["csv"], "train_csv")
    if upload is not None:
        try:
            d = load_points_csv(upload.getvalue(), config.test_fraction, config.seed)
        except ValueError as e:
            st.error(f"{upload.name}: {e}")
        else:
            x, y = np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])
            _new_points(session, [(float(a), float(b), int(c)) for (a, b), c in zip(x, y)])
            config.dataset = CUSTOM
            st.rerun()


def data_column(session: Session, hidden: set[str]) -> None:
    """The dataset, what the task is, and which nodes are inputs and read-outs."""
    st.subheader("Data")
    if "dataset" in hidden:
        st.caption(f"Dataset: **{session.config.dataset}** (fixed by the link)")
    else:
        _dataset_settings(session)
    data = session.data
    if data is not None:
        what = f"{data.n_classes} classes" if data.task == "classification" else "regression"
        st.caption(f"{len(data.x_train)} train / {len(data.x_test)} test points · {data.n_features} feature(s) "
                   f"· {what}")
        if data.task == "classification":
            st.markdown(f"**Task:** classification into {data.n_classes} classes; the {data.n_classes} "
                        "read-out voltages at T are the logits.")
        else:
            st.markdown(f"**Task:** regression; the read-out voltage at T is the prediction "
                        f"({data.n_outputs} target{'s' if data.n_outputs > 1 else ''}, MSE loss).")
    if "hyperparameters" not in hidden:
        train_controls.roles(session)


def _points_table(session: Session) -> None:
    frame = pd.DataFrame(session.custom_points, columns=["x1", "x2", "label"])
    edited = st.data_editor(frame, num_rows="delete", key=f"train_points_{session.train.editor_version}", height=220,
                            width="stretch")
    rows = [(float(a), float(b), int(c)) for a, b, c in edited.dropna().itertuples(index=False)]
    if rows != list(session.custom_points):
        _new_points(session, rows)
        st.rerun()


def draw_points(session: Session) -> None:
    """Your own points: click the canvas, drag a box, type one, or edit the table."""
    st.caption("Click on the canvas to add a point of the chosen class (it snaps to a 0.1 grid), or pick the "
               "box-select tool in the chart's toolbar and drag a box to scatter 10 points in it. The table "
               "edits or deletes points; the form adds exact ones.")
    if session.points_problem:
        st.warning(f"These points cannot be used yet: {session.points_problem}")
    dc = st.columns([2, 1.2])
    with dc[1]:
        label = st.radio("Class of new points", list(range(6)), horizontal=True, key="train_draw_class")
        with st.form("train_add_point", border=False):
            fc = st.columns(3)
            px = fc[0].number_input("x1", -10.0, 10.0, 0.0, step=0.1, key="train_px")
            py = fc[1].number_input("x2", -10.0, 10.0, 0.0, step=0.1, key="train_py")
            pl = fc[2].number_input("label", 0, 9, 0, key="train_pl")
            if st.form_submit_button("Add point"):
                _new_points(session, [*session.custom_points, (float(px), float(py), int(pl))])
                st.rerun()
        st.button("Clear all points", key="train_clear_points", on_click=_new_points, args=(session, [], True))
        _points_table(session)
    with dc[0]:
        event = st.plotly_chart(tv.draw_figure(session.custom_points, CANVAS), key=f"train_draw_{session.train.draw_version}",
                                on_select="rerun", selection_mode=("points", "box"), width="stretch")
        sel = event.selection if event else None
        new = []
        for box in (sel or {}).get("box") or []:
            pts = analysis.points_in_box(box["x"], box["y"], n=10, seed=session.train.draw_version)
            new += [(float(a), float(b), int(label)) for a, b in pts]
        if sel and not sel.get("box"):
            new += [(float(p["x"]), float(p["y"]), int(label)) for p in sel.get("points", []) if p.get("curve_number") == 0]
        if new:
            _new_points(session, [*session.custom_points, *new], canvas=True)
            st.rerun()
