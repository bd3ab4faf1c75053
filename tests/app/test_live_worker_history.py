"""The play controller with a worker process (KIRCHHOFF_WORKERS=1): a run that ends (Reset, or a new
set-up) hands its records to ``LiveRun.on_end``, so the Train page's Compare view keeps runs trained in
a worker as it keeps those trained in-process."""

from __future__ import annotations

from functools import partial

import apptest_helpers  # noqa: F401 - puts app/ on the path

from bookkeeping import Messages
from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.live_views import build_supervised
from kirchhoff_core.presets import build_circuit, preset_for
from live import LiveRun, Player, _reset


def test_a_worker_run_that_ends_reaches_on_end(monkeypatch):
    monkeypatch.setenv("KIRCHHOFF_WORKERS", "1")
    preset = preset_for("moons")
    data = make_dataset("moons", n_samples=60, seed=0)
    ended: list[tuple] = []
    run = LiveRun(on_end=lambda history: ended.append(tuple(history)))
    run.start(partial(build_supervised, build_circuit(preset), data, preset.train, preset.solver), None)
    try:
        assert run.worker is not None and run.trainer is None  # it trains in a worker process
        run.worker.step(2)
        run.worker.wait_for(lambda s: s.steps_done == 2 and s.state == "idle", timeout_s=120)
        player = Player("t", "epoch", 100, 1.0, lr=lambda: preset.train.lr, messages=Messages())
        _reset(player, run)
        assert [r.step for r in ended[0]] == [1, 2]
        run.worker.step(1)
        run.worker.wait_for(lambda s: s.steps_done == 1 and s.state == "idle", timeout_s=120)
        run.stop()  # a new set-up replaces the run
        assert len(ended) == 2 and [r.step for r in ended[1]] == [1]
        run.stop()  # nothing trained since: nothing more to keep
        assert len(ended) == 2
    finally:
        run.stop()
