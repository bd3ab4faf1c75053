"""The Train page's Compare view through AppTest: runs end at a change of set-up or at Reset and are
kept with their settings; the view overlays the chosen runs' curves and names the settings that
differ (a learning rate changed mid-run included)."""

from __future__ import annotations

import json

import pytest
from apptest_helpers import open_page, session
from streamlit.testing.v1 import AppTest

PAGE = "app_pages/train.py"


def compare_chart(at: AppTest) -> dict:
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if any(str(t.get("name", "")).startswith("run ") for t in spec["data"]):
            return spec
    raise AssertionError("no Compare chart")


def run_names(spec: dict) -> set[str]:
    return {t["name"] for t in spec["data"]}


def differing(at: AppTest):
    frames = [d.value for d in at.dataframe]
    assert frames, "no table of differing settings"
    return frames[-1]


def test_runs_are_kept_and_compared():
    at = open_page(PAGE, timeout=90)
    assert "Compare runs (0)" in [e.label for e in at.expander]
    assert session(at).train.runs.limit == 20  # the last 20 runs (RunHistory's bound, tests/core/test_runs.py)
    at.button(key="train_step").click().run()
    at.button(key="train_step").click().run()
    at.number_input(key="train_bs").set_value(64).run()  # a new set-up ends run 1
    s = session(at)
    first = s.train.runs.runs
    assert [r.number for r in first] == [1] and first[0].steps == 2 and first[0].settings["batch size"] == 32
    at.button(key="train_step").click().run()
    assert "Compare runs (2)" in [e.label for e in at.expander]
    assert run_names(compare_chart(at)) == {"run 1", "run 2 (current)"}
    table = differing(at)
    assert list(table.columns) == ["run 1", "run 2 (current)"]
    assert list(table.loc["batch size"]) == ["32", "64"] and list(table.loc["epochs"]) == ["2", "1"]
    assert "dataset" not in table.index  # only what differs

    at.button(key="train_reset").click().run()  # Reset ends run 2
    assert [r.number for r in s.train.runs.runs] == [1, 2]
    at.button(key="train_step").click().run()
    at.number_input(key="train_lr").set_value(0.05).run()  # mid-run: the same run goes on
    at.button(key="train_step").click().run()
    at.multiselect(key="train_compare_runs").set_value([2, 3]).run()
    assert run_names(compare_chart(at)) == {"run 2", "run 3 (current)"}
    table = differing(at)
    assert list(table.loc["lr"]) == ["0.01", "0.01 → 0.05"] and "batch size" not in table.index

    at.button(key="train_compare_clear").click().run()
    assert s.train.runs.runs == [] and "Compare runs (1)" in [e.label for e in at.expander]
    assert not at.exception and not at.error


@pytest.mark.parametrize("change", ["dataset", "circuit"])
def test_other_set_up_changes_end_a_run_too(change):
    at = open_page(PAGE, timeout=90)
    at.button(key="train_step").click().run()
    if change == "dataset":
        at.radio(key="train_dataset").set_value("circles").run()
    else:
        at.number_input(key="train_T").set_value(2.0).run()
    runs = session(at).train.runs.runs
    assert len(runs) == 1 and runs[0].settings["dataset"] == "moons" and runs[0].settings["T"] == 1.0
    assert not at.exception
