"""Train page, Compare runs: the session's run history (``kirchhoff_core.runs``) overlaid.

Every run from its first step to a Reset or a change of set-up is kept (the last 20) with the
settings it started with; the current run joins them live. Pick two or more to overlay their loss
and accuracy curves and see which settings differ and where each ended.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kirchhoff_core.runs import Run, differences
from state import Session, bound
from views.compare_views import compare_figure
from views.format import metric_text

REFRESH_S = 2.0  # while playing, the view follows the current run this often


def _runs(session: Session) -> list[Run]:
    page = session.train
    current = page.runs.preview(page.run_settings, page.run.history) if page.run.active else None
    return [*page.runs.runs, *([current] if current is not None else [])]


def _set(session: Session, picked: list[int]) -> None:
    session.train.compare = list(picked)


def _clear(session: Session) -> None:
    session.train.runs.clear()
    session.train.compare = []


def _cell(value) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(runs: list[Run]) -> pd.DataFrame:
    """The settings that differ, then where each run ended."""
    rows = {name: [_cell(v) for v in values] for name, values in differences(runs).items()}
    rows["epochs"] = [str(r.steps) for r in runs]
    rows["final test loss"] = [_cell(r.last("test_loss")) for r in runs]
    rows[f"final test {runs[0].metric}"] = [metric_text(r.last("test_metric"), r.metric)
                                            if r.last("test_metric") is not None else "—" for r in runs]
    return pd.DataFrame(rows, index=[r.label for r in runs]).T


def compare_view(session: Session) -> None:
    """The Compare expander (it follows the current run while Play is on)."""

    @st.fragment(run_every=REFRESH_S if session.playing else None)
    def view() -> None:
        runs = _runs(session)
        with st.expander(f"Compare runs ({len(runs)})", icon=":material/compare_arrows:"):
            if len(runs) < 2:
                st.caption("Every run — from Play or Step to Reset or a change of settings — is kept here with its "
                           "settings and curves (the last 20). Train, press Reset or change a setting, and train "
                           "again: then pick the runs to overlay.")
                return
            numbers = {r.number: r for r in runs}
            picked = [n for n in session.train.compare if n in numbers] or list(numbers)[-2:]
            chosen = bound(st.multiselect, "Runs to compare", list(numbers), key="train_compare_runs", value=picked,
                           on_set=lambda v: _set(session, v), format_func=lambda n: numbers[n].label)
            shown = [numbers[n] for n in chosen if n in numbers]
            if len(shown) < 1:
                st.caption("Pick at least one run.")
                return
            st.plotly_chart(compare_figure(shown), key="train_compare_chart", width="stretch")
            st.caption("Settings that differ between these runs, and where each ended:" if len(shown) > 1 else
                       "Where this run ended:")
            st.dataframe(_table(shown), width="stretch")
            st.button("Clear the history", key="train_compare_clear", on_click=_clear, args=(session,),
                      icon=":material/delete_sweep:")

    view()
