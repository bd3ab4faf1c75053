"""Live training in worker processes: commands in, snapshots out, a bounded number training at once."""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import time

import pytest

from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.generators import generate
from kirchhoff_core.model import KirchhoffNet
from kirchhoff_core.solvers import SolverConfig
from kirchhoff_core.train import TrainConfig, Trainer
from kirchhoff_core.workers import WorkerPool

pytestmark = pytest.mark.timeout(180)


def build_moons(lr: float = 0.01, max_nfe: int = 400) -> Trainer:
    data = make_dataset("moons", n_samples=120, seed=0)
    circuit = generate("fully_connected", num_nodes=4, n_inputs=2, n_outputs=2, seed=0)
    return Trainer(KirchhoffNet(circuit, SolverConfig(rtol=1e-3, atol=1e-3, max_nfe=max_nfe)), data,
                   TrainConfig(lr=lr, batch_size=60))


def last_loss(trainer: Trainer) -> float:
    return trainer.history[-1].train_loss if trainer.history else float("nan")


def steps_done(trainer: Trainer) -> int:
    return trainer.steps_done


def export_circuit(trainer: Trainer):
    return trainer.model.to_circuit()


def build_counting_imports() -> Trainer:
    """``build_moons`` that notes how many modules building it imported (in the worker)."""
    before = len(sys.modules)
    trainer = build_moons()
    trainer.imported_by_build = len(sys.modules) - before
    return trainer


def imported_by_build(trainer: Trainer) -> int:
    return trainer.imported_by_build


def broken() -> Trainer:
    raise ValueError("no such dataset")


@pytest.fixture
def pool():
    p = WorkerPool(slots=1, quantum_s=0.5)
    yield p
    p.shutdown()


def test_step_play_pause_reset_and_call(pool):
    w = pool.open(functools.partial(build_moons), draw=last_loss)
    w.wait_for(lambda s: s.state == "idle")
    w.step(2)
    snap = w.wait_for(lambda s: s.steps_done == 2 and s.state == "idle")
    assert [r.step for r in snap.history] == [1, 2]
    assert snap.drawing == pytest.approx(snap.history[-1].train_loss)  # drawn in the worker after the last step
    w.set_lr(0.05)
    w.play()
    w.wait_for(lambda s: s.steps_done >= 4)
    w.pause()
    snap = w.wait_for(lambda s: s.state == "idle")
    assert snap.history[-1].lr == 0.05 and not snap.playing
    assert w.call(steps_done) == snap.steps_done  # nothing trains once paused
    circuit = w.call(export_circuit)
    assert circuit.num_devices == 5 * 4 * 2  # 4 nodes + ground, every ordered pair
    w.reset()
    snap = w.wait_for(lambda s: s.steps_done == 0)
    assert snap.history == ()


def test_one_slot_queues_the_second_session_and_takes_turns(pool):
    a, b = pool.open(build_moons), pool.open(build_moons)
    for w in (a, b):
        w.wait_for(lambda s: s.state == "idle")
    a.play()
    a.wait_for(lambda s: s.state == "training")
    b.play()
    snap = b.wait_for(lambda s: s.state == "waiting")
    assert snap.queue_position == 1 and pool.training == 1
    # the quantum (0.5 s) hands the slot over: both make progress, never both at once
    b.wait_for(lambda s: s.steps_done >= 2, timeout_s=60)
    a_before = a.snapshot.steps_done
    a.wait_for(lambda s: s.steps_done > a_before, timeout_s=60)
    assert pool.training <= 1
    a.pause()
    b.pause()
    a.wait_for(lambda s: s.state == "idle")
    b.wait_for(lambda s: s.state == "idle")
    assert pool.training == 0 and pool.waiting == 0


def test_a_waiting_snapshot_always_says_its_place_in_line():
    """A worker publishes "waiting" before the pool has its request, and still says so after the pool
    granted it a slot: the pool's snapshot tells the page where it really stands at every read."""
    p = WorkerPool(slots=1, quantum_s=0.2)
    try:
        ws = [p.open(build_moons) for _ in range(2)]
        for w in ws:
            w.wait_for(lambda s: s.state == "idle")
            w.play()
        waiting, deadline = [], time.monotonic() + 6
        while time.monotonic() < deadline:
            waiting += [s for s in (w.snapshot for w in ws) if s.state == "waiting"]
        assert len(waiting) > 100, "the two sessions took turns (each waited in line)"
        assert all(s.queue_position is not None for s in waiting), {s.queue_position for s in waiting}
    finally:
        p.shutdown()


def test_a_new_worker_finds_what_training_needs_already_imported(pool):
    """A worker forks from a server that has imported what building a trainer needs: torch's optimizer
    imports torch._dynamo (~800 modules) on first use, which took a niced worker on a busy class server
    close to a minute."""
    w = pool.open(build_counting_imports)
    w.wait_for(lambda s: s.state == "idle")
    assert w.call(imported_by_build) < 50


def test_training_errors_pause_with_a_message(pool):
    w = pool.open(functools.partial(build_moons, max_nfe=10))  # every solve hits the work cap
    w.play()
    snap = w.wait_for(lambda s: s.state == "error", timeout_s=90)
    assert "training paused at step 0" in snap.error and "max_nfe=10" in snap.error and not snap.playing
    assert w.alive  # the worker survives its trainer's failure
    w.reset()
    assert w.wait_for(lambda s: s.state == "idle").error is None


def test_a_build_failure_is_reported(pool):
    w = pool.open(broken)
    snap = w.wait_for(lambda s: s.state == "error")
    assert "could not start training: no such dataset" in snap.error
    with pytest.raises(RuntimeError, match="no such dataset"):
        w.call(steps_done)
    w.play()
    assert "no such dataset" in w.wait_for(lambda s: s.acked == 1).error  # commands are answered, not lost


def test_a_killed_worker_is_reported_and_frees_its_slot(pool):
    a, b = pool.open(build_moons), pool.open(build_moons)
    a.play()
    a.wait_for(lambda s: s.state == "training")
    b.play()
    b.wait_for(lambda s: s.state == "waiting")
    os.kill(a._entry.proc.pid, signal.SIGKILL)
    snap = a.wait_for(lambda s: s.state == "stopped")
    assert "stopped unexpectedly" in snap.error
    b.wait_for(lambda s: s.state == "training")


def test_dropping_the_handle_stops_the_worker(pool):
    w = pool.open(build_moons)
    proc = w._entry.proc
    w.wait_for(lambda s: s.state == "idle")
    assert pool.workers == 1
    del w
    gc.collect()
    proc.join(timeout=10)
    assert not proc.is_alive() and pool.workers == 0


def test_play_until_acks_and_redraw(pool):
    w = pool.open(build_moons, draw=steps_done)
    w.wait_for(lambda s: s.state == "idle")
    w.play(until=2)
    assert w.sent == 1
    snap = w.wait_for(lambda s: s.acked == 1 and s.state == "idle" and not s.playing)
    assert snap.steps_done == 2 and w.settled  # playing stopped itself at the limit
    w.play(until=2)  # at the limit already: one more step, then it stops again
    snap = w.wait_for(lambda s: s.acked == 2 and s.state == "idle")
    assert snap.steps_done == 3 and snap.drawing == 3
    w.call(reset_without_command)
    w.redraw()
    assert w.wait_for(lambda s: s.acked == 3).drawing == 0  # a fresh drawing after the call changed the trainer


def reset_without_command(trainer: Trainer) -> None:
    trainer.reset()


def test_an_unwatched_worker_pauses():
    pool = WorkerPool(slots=1, quantum_s=60, unwatched_s=0.5)
    try:
        w = pool.open(build_moons)
        w.wait_for(lambda s: s.state == "idle")
        w.play()
        w.wait_for(lambda s: s.playing and s.steps_done >= 1)
        entry = pool._entries[w.id]
        deadline = time.monotonic() + 30
        while entry.snapshot.playing and time.monotonic() < deadline:  # nobody reads the snapshot
            time.sleep(0.1)
        assert not entry.snapshot.playing and pool.counts()["training"] == 0
        assert w.snapshot.error is None and w.settled  # paused, not failed: a page resumes it with play()
    finally:
        pool.shutdown()


def test_a_worker_whose_session_has_gone_is_closed():
    pool = WorkerPool(slots=1, release_s=0.5)
    owner = {"alive": True}
    try:
        w = pool.open(build_moons, owner_alive=lambda: owner["alive"])
        w.wait_for(lambda s: s.state == "idle")
        time.sleep(1.5)
        assert pool.counts() == {"slots": 1, "workers": 1, "training": 0, "waiting": 0}
        owner["alive"] = False
        snap = w.wait_for(lambda s: s.state == "stopped", timeout_s=30)
        assert "released while this page was disconnected" in snap.error and pool.workers == 0 and not w.alive
    finally:
        pool.shutdown()


def niceness(trainer: Trainer) -> int:
    return os.nice(0)


def test_workers_train_below_the_servers_priority():
    p = WorkerPool(slots=1, nice=3)
    try:
        w = p.open(build_moons)
        w.wait_for(lambda s: s.state == "idle")
        assert w.call(niceness) == min(19, os.nice(0) + 3)
    finally:
        p.shutdown()


def _drawings_in(w, seconds: float) -> int:
    """New drawings a playing worker publishes in ``seconds`` (its snapshot polled every 10 ms)."""
    seen, count, end = w.snapshot.drawing_step, 0, time.monotonic() + seconds
    while time.monotonic() < end:
        step = w.snapshot.drawing_step
        count, seen = count + (step != seen), step
        time.sleep(0.01)
    return count


def test_a_full_pool_draws_at_its_crowded_pace():
    p = WorkerPool(slots=2, quantum_s=60, crowded_pace=5.0)
    try:
        a, b = (p.open(build_moons, draw=steps_done, draw_every_s=0.2) for _ in range(2))
        for w in (a, b):
            w.wait_for(lambda s: s.state == "idle")
        a.play()
        a.wait_for(lambda s: s.state == "training")
        assert p.pace == 1.0
        alone = _drawings_in(a, 3.0)  # one slot of two: a drawing every 0.2 s
        b.play()
        b.wait_for(lambda s: s.state == "training")
        assert p.pace == 5.0
        _drawings_in(a, 1.2)  # the drawing due when the pace changed
        crowded = _drawings_in(a, 3.0)  # every slot trains: every 1 s
        b.pause()
        b.wait_for(lambda s: s.state == "idle")
        assert p.pace == 1.0
        assert alone >= 8 and crowded <= 4, (alone, crowded)
    finally:
        p.shutdown()
