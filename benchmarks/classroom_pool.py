"""A class's training without its browsers: N sessions' workers in the server's pool (the same
``WorkerPool`` settings as the app's defaults) play the Train page's moons set-up at once; prints
epochs/s per session and in total, against one session alone.

``classroom.py`` measures the whole class on one machine, Chromium included; on a 2-core machine
the browsers' renderers take most of a core as soon as several pages play, and the niced workers
get what is left. This measures what the server itself delivers, as when the students' browsers run
on their own machines: each session's snapshot is read once a second, as a playing page reads it
(a page also re-presses Play when its worker was paused for want of a reader; here nothing pauses).

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/classroom_pool.py --sessions 1 2 4 8
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

from kirchhoff_core.datasets import make_dataset
from kirchhoff_core.live_views import build_supervised, supervised_view
from kirchhoff_core.presets import build_circuit, preset_for
from kirchhoff_core.workers import WorkerPool

# The app's defaults (app/classroom.py, app/state.py): 5 s turns, workers at nice 10, drawings every
# second on a 40 x 40 grid, twice as slow while every slot trains.
TURN_S, NICE, CROWDED_PACE, DRAW_EVERY_S, GRID = 5.0, 10, 2.0, 1.0, 40


def _watch(workers, seconds: float) -> None:
    """Read every session's snapshot once a second for ``seconds``, as the playing pages do."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for w in workers:
            _ = w.snapshot
        time.sleep(1.0)


def run_class(n: int, slots: int, warmup_s: float, measure_s: float) -> list[float]:
    preset = preset_for("moons")
    build = functools.partial(build_supervised, build_circuit(preset), make_dataset("moons"), preset.train,
                              preset.solver)
    draw = functools.partial(supervised_view, resolution=GRID)
    pool = WorkerPool(slots=slots, quantum_s=TURN_S, unwatched_s=15.0, nice=NICE, crowded_pace=CROWDED_PACE)
    try:
        workers = [pool.open(build, draw, draw_every_s=DRAW_EVERY_S) for _ in range(n)]
        for w in workers:
            w.wait_for(lambda s: s.state == "idle", timeout_s=120)
        for w in workers:
            w.play()
        _watch(workers, warmup_s)
        start, t0 = [w.snapshot.steps_done for w in workers], time.monotonic()
        _watch(workers, measure_s)
        end, t1 = [w.snapshot.steps_done for w in workers], time.monotonic()
        return [(b - a) / (t1 - t0) for a, b in zip(start, end)]
    finally:
        pool.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--slots", type=int, default=os.cpu_count() or 1, help="training slots (default: the cores)")
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--measure", type=float, default=30.0)
    args = ap.parse_args()
    print(f"{args.slots} slots on {os.cpu_count()} CPU cores; load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'N':>2} | {'epochs/s per session':<48} | {'total':>6} | vs solo")
    solo = None
    for n in args.sessions:
        rates = run_class(n, args.slots, args.warmup, args.measure)
        total = sum(rates)
        if n == 1:
            solo = rates[0]
        ratio = "" if solo is None or n == 1 else \
            (f"{min(rates) / solo:.0%} min" if n <= args.slots else f"{total / (args.slots * solo):.0%} {args.slots}×")
        print(f"{n:>2} | {' '.join(f'{r:.2f}' for r in rates):<48} | {total:6.2f} | {ratio}"
              + (f"   (mean {statistics.mean(rates):.2f})" if n > 1 else ""), flush=True)


if __name__ == "__main__":
    main()
