"""A class server's per-session cost: the Train and Generate pages build their charts once per drawing
(not every live tick), the training workers run below the server's CPU priority, and live pages
tick slower while the server's training slots are all taken."""

from __future__ import annotations

import functools

import pytest
from apptest_helpers import open_page

import classroom
import views.generate_views as gv
import views.train_views as tv
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.live_views import build_supervised
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig
from bookkeeping import Messages, PerDrawing
from live import LiveRun, Player, _tick_s, _toggle
import views.node_maps as node_maps


def test_per_drawing_keeps_a_value_while_drawing_and_options_stay():
    built: list[str] = []
    figures = PerDrawing()

    def build(tag: str):
        return lambda: built.append(tag) or tag

    first, second = object(), object()
    assert figures.get("a", first, 1, build("a1")) == "a1"
    assert figures.get("a", first, 1, build("again")) == "a1"  # same drawing, same options: kept
    assert figures.get("a", first, 2, build("a2")) == "a2"  # an option changed
    assert figures.get("a", second, 2, build("a3")) == "a3"  # a new drawing
    assert figures.get("b", second, 2, build("b1")) == "b1"  # each name on its own
    assert figures.get("a", None, 2, build("a4")) == "a4"  # nothing drawn: never kept
    assert figures.get("a", None, 2, build("a5")) == "a5"
    assert built == ["a1", "a2", "a3", "b1", "a4", "a5"]
    assert figures.last("a") == "a5" and figures.last("never") is None


def _count_builds(monkeypatch, module, figures: dict[str, str], calls: dict[str, int] | None = None) -> dict[str, int]:
    """Count the calls of each figure builder (name -> function in ``module``) from now on, in ``calls``."""
    calls = {} if calls is None else calls
    calls.update({name: 0 for name in figures})
    for name, fn in figures.items():
        original = getattr(module, fn)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, fn, counted)
    return calls


def test_the_train_page_builds_its_charts_once_per_drawing(monkeypatch):
    calls = _count_builds(monkeypatch, tv, {"boundary": "boundary_figure", "curves": "curves_figure"})
    _count_builds(monkeypatch, node_maps, {"nodes": "draw"}, calls)
    at = open_page("app_pages/train.py", timeout=90)
    at.button(key="train_step").click().run()
    assert calls == {"boundary": 2, "curves": 1, "nodes": 2}  # epoch 0, then epoch 1 (no curves before)
    at.run()  # a tick with nothing new: the same figures are sent again
    assert calls == {"boundary": 2, "curves": 1, "nodes": 2}
    at.toggle(key="train_show_test").set_value(False).run()  # an option of one chart: only that one
    assert calls == {"boundary": 3, "curves": 1, "nodes": 2}
    at.button(key="train_step").click().run()  # a new drawing: every chart
    assert calls == {"boundary": 4, "curves": 2, "nodes": 3}
    assert not at.exception


@pytest.mark.parametrize("value, nice", [(None, 10), ("0", 0), ("5", 5), ("99", 19), ("-3", 0), ("many", 10)])
def test_worker_nice_setting(monkeypatch, value, nice):
    if value is None:
        monkeypatch.delenv("KIRCHHOFF_WORKER_NICE", raising=False)
    else:
        monkeypatch.setenv("KIRCHHOFF_WORKER_NICE", value)
    assert classroom.worker_nice() == nice


def test_the_pool_gets_the_nice_setting(monkeypatch):
    monkeypatch.setenv("KIRCHHOFF_WORKERS", "1")
    monkeypatch.setenv("KIRCHHOFF_WORKER_NICE", "7")
    assert classroom.pool().nice == 7


def test_the_generate_page_builds_its_charts_once_per_drawing(monkeypatch):
    calls = _count_builds(monkeypatch, gv, {"overview": "overview_figure", "curves": "curves_figure"})
    at = open_page("app_pages/generate.py", timeout=120)
    at.button(key="gen_step").click().run()
    built = dict(calls)
    assert built["overview"] >= 1 and built["curves"] == 1
    at.run()  # a tick with nothing new: the same figures are sent again
    assert calls == built
    at.button(key="gen_step").click().run()  # a new drawing: both again
    assert calls == {"overview": built["overview"] + 1, "curves": 2}
    assert not at.exception


def test_live_pages_tick_slower_while_every_slot_trains(monkeypatch):
    monkeypatch.setenv("KIRCHHOFF_WORKERS", "1")
    monkeypatch.setenv("KIRCHHOFF_CROWDED_PACE", "4")
    pool = classroom.pool()
    build = functools.partial(build_supervised, generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2),
                              make_dataset("moons", n_samples=100), TrainConfig(batch_size=50), SolverConfig())
    player = Player("t", "epoch", 100_000, 0.8, lr=lambda: 0.01, messages=Messages())
    first, second = LiveRun(), LiveRun()
    try:
        for run in (first, second):
            run.start(build, draw=None)
            run.worker.wait_for(lambda s: s.state == "idle", timeout_s=60)
        assert _tick_s(player, first) is None and classroom.pace() == 1.0  # idle: no timer
        _toggle(player, first)
        first.worker.wait_for(lambda s: s.state == "training")
        assert classroom.pace() == 4.0 and _tick_s(player, first) == 4.0 * player.tick_s  # its one slot is taken
        _toggle(player, second)
        second.worker.wait_for(lambda s: s.state == "waiting")
        assert _tick_s(player, second) == 4.0 * player.tick_s  # waiting in line: the same pace, no page rerun
        _toggle(player, first)  # paused: the slot goes to the second
        second.worker.wait_for(lambda s: s.state == "training")
        first.worker.wait_for(lambda s: s.state == "idle")
        assert _tick_s(player, second) == 4.0 * player.tick_s and _tick_s(player, first) is None
        _toggle(player, second)
        second.worker.wait_for(lambda s: s.state == "idle")
        assert classroom.pace() == 1.0
    finally:
        pool.shutdown()
        classroom._pool.clear()
