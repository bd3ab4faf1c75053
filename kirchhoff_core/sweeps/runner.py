"""Running a sweep: on Ray Tune (in-process by default, a cluster by address) or serially.

``run_sweep`` checks the space (the smallest and largest circuit of every data set and topology are
built before any trial), prepares the sweep folder (or resumes it: finished, stopped and failed
trials are kept, everything else runs), starts Ray in-process with ``num_cpus`` bounded and the
dashboard off on 127.0.0.1, or joins the cluster at ``address`` / ``RAY_ADDRESS`` after a bounded
TCP check, and runs the trials through a Tuner: grid and random configurations are fixed up front,
Optuna TPE proposes as results come in, ASHA stops trials that trail at its rungs. ``run_serial``
runs the same trials one after another in this process (no early stopping), which is what the
throughput benchmark compares Ray with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import socket
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

from ..circuit import CircuitError
from ..train import check_compatible
from .records import (PROPOSALS_FILE, STATUS_FILE, SWEEP_FILE, TRIAL_FILE, SweepState, TrialRecord, host_name,
                      load_sweep, now, read_json, settings_dataset, trial_dir, write_json)
from .search import make_optuna_searcher
from .space import SweepError, label
from .spec import SweepSpec
from .trial import TrialFailed, build_circuit, run_trial, trial_settings

Progress = Callable[[dict[str, Any]], None]
"""Called with {"done", "running", "finished", "stopped", "failed", "total", "best"} as trials move."""
MAX_CORNERS = 200


class ClusterError(SweepError):
    """Ray could not be started or the cluster at the given address could not be reached."""


def default_workers() -> int:
    """Trials at once on this machine: all cores but one, at least one."""
    return max(1, (os.cpu_count() or 1) - 1)


# --- checks before any work ----------------------------------------------------------------------

def _corner_values(d) -> list:
    """The extreme values of one dimension (both ends of numbers; all choices of a name)."""
    if d.is_range:
        low, high = (int(d.low), int(d.high)) if d.integer else (d.low, d.high)
        return [low, high]
    values = list(d.values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [min(values), max(values)]
    if all(isinstance(v, tuple) for v in values):
        return [min(values, key=sum), max(values, key=sum)]
    return values


def check_space(spec: SweepSpec) -> None:
    """Build the circuit (and data set) of every corner of the space that shapes them, so a space
    the generator refuses (too many devices, too few nodes for the data) fails before any trial."""
    shaping = [n for n in spec.space.names if n not in ("lr", "batch_size", "optimizer", "weight_decay", "mismatch",
                                                        "method", "rtol", "atol", "step_size", "noise")]
    corners: list[dict[str, Any]] = [{}]
    for name in shaping:
        corners = [{**c, name: v} for c in corners for v in _corner_values(spec.space.dimensions[name])]
        corners = corners[:MAX_CORNERS]
    fixed = {n: d.grid_values()[0] if d.discrete else d.low for n, d in spec.space.dimensions.items()
             if n not in shaping}
    for corner in corners:
        params = {**fixed, **corner}
        where = ", ".join(f"{k}={label(v)}" for k, v in corner.items()) or "the default set-up"
        try:
            settings = trial_settings(spec, params)
            circuit = build_circuit(settings)
            if settings["task"] == "supervised":
                check_compatible(circuit, settings_dataset(settings["dataset"]))
        except (CircuitError, ValueError, TypeError) as e:
            raise SweepError(f"the space includes a circuit that cannot be built ({where}): {e}") from None


# --- the folder ------------------------------------------------------------------------------------

def prepare_folder(spec: SweepSpec, folder: str | pathlib.Path) -> dict[int, TrialRecord]:
    """Create or reopen a sweep folder for ``spec``; returns the trials already done, by index.
    A folder holding a different sweep, or one whose driver is still running, is refused."""
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SweepError(f"--out: {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    old = read_json(folder / SWEEP_FILE)
    if old is not None:
        if SweepSpec.from_json(old).to_json() != spec.to_json():
            raise SweepError(f"{folder} holds a different sweep; choose another --out folder, or continue that "
                             f"one with `kirchhoff sweep resume {folder}`")
        state = load_sweep(folder)
        if state.running:
            raise SweepError(f"{folder}: a sweep is already running there (pid {state.status.get('pid')})")
    elif any(folder.iterdir()):
        raise SweepError(f"--out: {folder} is not empty and holds no sweep; choose a new or empty folder")
    else:
        write_json(folder / SWEEP_FILE, spec.to_json())
    if spec.search != "optuna":
        proposals = spec.proposals()
        stored = read_json(folder / PROPOSALS_FILE)
        if stored is None:
            write_json(folder / PROPOSALS_FILE, proposals)
    return {t.index: t for t in load_sweep(folder).trials if t.done}


def _todo(spec: SweepSpec, folder: pathlib.Path, done: dict[int, TrialRecord]) -> list[tuple[int, dict] | int]:
    """Grid/random: (index, params) of every trial not done. Optuna: the free trial numbers."""
    if spec.search == "optuna":
        return [i for i in range(spec.n_trials) if i not in done]
    stored = read_json(folder / PROPOSALS_FILE)
    return [(i, p) for i, p in enumerate(stored) if i not in done]


class _Status:
    """``status.json``: who drives the sweep, and how far it is."""

    def __init__(self, folder: pathlib.Path, spec: SweepSpec, **info: Any):
        self.path = folder / STATUS_FILE
        self.doc = {"state": "running", "pid": os.getpid(), "host": host_name(), "started": now(),
                    "trials": spec.n_trials, **info}
        self.write()

    def write(self, **changes: Any) -> None:
        self.doc.update(changes, updated=now())
        write_json(self.path, self.doc)


class _Tally:
    """Counts trials as they move and remembers the best objective so far."""

    def __init__(self, spec: SweepSpec, done: dict[int, TrialRecord], progress: Progress | None):
        self.spec, self.progress = spec, progress
        self.counts = {"running": 0, "finished": 0, "stopped": 0, "failed": 0}
        self.best: float | None = None
        for t in done.values():
            self.counts[t.state] += 1
            self._score(t.objective if t.state != "failed" else None)
        self.emit()

    def _score(self, value: Any) -> None:
        if isinstance(value, (int, float)) and value == value and (self.best is None or
                                                                  self.spec.better(value, self.best)):
            self.best = float(value)

    def start(self) -> None:
        self.counts["running"] += 1
        self.emit()

    def end(self, state: str, objective: Any = None) -> None:
        self.counts["running"] = max(0, self.counts["running"] - 1)
        self.counts[state] += 1
        self._score(objective)
        self.emit()

    def snapshot(self) -> dict[str, Any]:
        c = self.counts
        return {**c, "done": c["finished"] + c["stopped"] + c["failed"], "total": self.spec.n_trials,
                "best": self.best}

    def emit(self) -> None:
        if self.progress is not None:
            self.progress(self.snapshot())


def _mark(folder: pathlib.Path, index: int, state: str, error: str | None = None) -> None:
    """The driver's word on a trial whose worker could not say it: stopped early, or died."""
    path = trial_dir(folder, index) / TRIAL_FILE
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("state") == "running":
        doc.update(state=state, updated=now(), **({"error": error} if error else {}))
        write_json(path, doc)


# --- Ray -----------------------------------------------------------------------------------------

def _address_parts(address: str) -> tuple[str, int] | None:
    """(host, port) of 'host:port' or 'ray://host:port'; None for 'auto' / 'local'."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ClusterError(f"--address: expected HOST:PORT (e.g. 192.168.1.10:6379) or ray://HOST:PORT, "
                           f"got {address!r}")
    return parts.hostname, port


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A TCP connection to the cluster's port within ``timeout_s``, or a ClusterError saying why."""
    parts = _address_parts(address)
    if parts is None:
        return
    try:
        with socket.create_connection(parts, timeout=timeout_s):
            pass
    except socket.gaierror as e:
        raise ClusterError(f"cannot reach a Ray cluster at {address}: unknown host ({e.strerror})") from None
    except (TimeoutError, socket.timeout):
        raise ClusterError(f"cannot reach a Ray cluster at {address}: no answer within {timeout_s:g} s") from None
    except OSError as e:
        raise ClusterError(f"cannot reach a Ray cluster at {address}: {e.strerror or e} (is `ray start --head` "
                           "running there? leave --address out to run on this machine)") from None


@contextlib.contextmanager
def ray_session(address: str | None = None, workers: int | None = None,
                connect_timeout_s: float = 5.0) -> Iterator[dict[str, Any]]:
    """Ray for one sweep: the cluster at ``address`` (or ``RAY_ADDRESS``), else a private in-process
    instance on 127.0.0.1 with ``workers`` CPUs (default: all cores but one) and no dashboard. An
    already initialised Ray (a test session, a notebook) is used as it is and left running.
    Yields {"address", "workers"}: where trials run and how many at once."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls home
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # our folder is the record
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Ctrl-C interrupts at once; resume picks up
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers: must be a positive integer, got {workers!r}")
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:  # one connection attempt (about 35 s at worst), not Ray's default of twenty
        check_reachable(address, connect_timeout_s)
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "1")
    else:  # a private instance: node address 127.0.0.1, every Ray server bound to loopback only
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    for name in ("ray", "ray.tune", "ray.train", "ray._private"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        if address:
            raise ClusterError("Ray is already initialised in this process; run the sweep in a new process "
                               "to join another cluster")
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        yield {"address": "this process's Ray", "workers": min(workers or cpus, cpus)}
        return
    if address:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            raise ClusterError(f"cannot join the Ray cluster at {address}: {type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''}") from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            ray.shutdown()
            raise ClusterError(f"the Ray cluster at {address} offers no CPUs")
        info = {"address": address, "workers": min(workers or cpus, cpus)}
    else:
        n = min(workers or default_workers(), os.cpu_count() or 1)
        try:
            ray.init(address="local", num_cpus=n, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, logging_level=logging.ERROR)
        except Exception as e:
            raise ClusterError(f"could not start Ray on this machine: {type(e).__name__}: {e}") from None
        info = {"address": "local", "workers": n}
    try:
        yield info
    finally:
        ray.shutdown()


def _ray_trial(config: dict[str, Any], spec_doc: dict[str, Any], folder: str) -> None:
    """The Ray trainable: one trial, reporting every epoch to Tune."""
    import ray
    from ray import tune

    trial = config["trial"]
    run_trial(SweepSpec.from_json(spec_doc), trial["index"], trial["params"], folder, report=tune.report,
              node_id=ray.get_runtime_context().get_node_id())


def _callback(folder: pathlib.Path, tally: _Tally, status: _Status):
    from ray import tune

    class Watcher(tune.Callback):
        """Driver-side bookkeeping: counts, stopped-early marks, dead workers, status.json."""

        def __init__(self, folder: pathlib.Path, tally: _Tally, status: _Status) -> None:
            self.folder, self.tally, self.status = folder, tally, status

        def __getstate__(self):  # Ray pickles the Tuner for its own restore, which we never use
            return {}

        def on_trial_start(self, iteration, trials, trial, **info):
            self.tally.start()

        def on_trial_complete(self, iteration, trials, trial, **info):
            result = trial.last_result or {}
            if not result.get("final"):
                _mark(self.folder, trial.config["trial"]["index"], "stopped")
            self.tally.end("finished" if result.get("final") else "stopped", result.get("objective"))
            self.status.write(counts=self.tally.snapshot())

        def on_trial_error(self, iteration, trials, trial, **info):
            _mark(self.folder, trial.config["trial"]["index"], "failed",
                  "the trial's worker died (out of memory or killed?)")
            self.tally.end("failed")
            self.status.write(counts=self.tally.snapshot())

    return Watcher(folder, tally, status)


def run_sweep(spec: SweepSpec, folder: str | pathlib.Path, address: str | None = None, workers: int | None = None,
              progress: Progress | None = None, connect_timeout_s: float = 5.0,
              time_budget_s: float | None = None) -> SweepState:
    """Run (or resume) ``spec`` with its record in ``folder`` on Ray; returns the sweep as recorded.
    Ctrl-C (KeyboardInterrupt) stops it at once; the folder keeps every trial that was done."""
    folder = pathlib.Path(folder).resolve()
    check_space(spec)
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:  # before the folder is touched: a wrong address changes nothing
        check_reachable(address, connect_timeout_s)
    done = prepare_folder(spec, folder)
    todo = _todo(spec, folder, done)
    tally = _Tally(spec, done, progress)
    if not todo:
        return _finish(folder, spec, "finished", tally)
    with ray_session(address, workers, connect_timeout_s) as info:
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

        status = _Status(folder, spec, address=info["address"], workers=info["workers"])
        trainable = tune.with_resources(tune.with_parameters(_ray_trial, spec_doc=spec.to_json(), folder=str(folder)),
                                        {"cpu": 1})
        scheduler = ASHAScheduler(metric="objective", mode=spec.mode, max_t=spec.epochs,
                                  grace_period=spec.grace_period, reduction_factor=spec.reduction_factor) \
            if spec.early_stopping == "asha" else FIFOScheduler()
        if spec.search == "optuna":
            searcher = make_optuna_searcher(spec, todo, [done[i] for i in sorted(done)])
            param_space, num_samples = None, len(todo)
        else:
            searcher = None
            param_space = {"trial": tune.grid_search([{"index": i, "params": p} for i, p in todo])}
            num_samples = 1
        tuner = tune.Tuner(
            trainable, param_space=param_space,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=num_samples,
                                        max_concurrent_trials=info["workers"], reuse_actors=True,
                                        time_budget_s=time_budget_s,
                                        trial_dirname_creator=lambda t: f"ray_{t.trial_id}"),
            run_config=tune.RunConfig(name="tune", storage_path=str(folder / "ray"), verbose=0,
                                      callbacks=[_callback(folder, tally, status)],
                                      failure_config=tune.FailureConfig(max_failures=0)))
        try:
            tuner.fit()
        except KeyboardInterrupt:
            status.write(state="interrupted", counts=tally.snapshot())
            raise
        return _finish(folder, spec, "finished", tally, status)


def _finish(folder: pathlib.Path, spec: SweepSpec, state: str, tally: _Tally, status: _Status | None = None
            ) -> SweepState:
    sweep = load_sweep(folder)
    left = [t.index for t in sweep.trials if not t.done]
    final = state if not left else "interrupted"
    if status is None:
        status = _Status(folder, spec, address=None, workers=0)
    status.write(state=final, counts=tally.snapshot(), message=None if not left else
                 f"{len(left)} trial(s) did not finish (time budget or a lost worker); resume to run them")
    return load_sweep(folder)


def run_serial(spec: SweepSpec, folder: str | pathlib.Path, progress: Progress | None = None,
               threads: int = 1) -> SweepState:
    """The same sweep one trial after another in this process, without Ray and without early
    stopping (grid, random, or Optuna driven through the same searcher)."""
    if spec.early_stopping != "none":
        raise SweepError("early stopping needs Ray: a serial sweep runs every trial to the end "
                         "(set early_stopping to none)")
    folder = pathlib.Path(folder).resolve()
    check_space(spec)
    done = prepare_folder(spec, folder)
    todo = _todo(spec, folder, done)
    tally = _Tally(spec, done, progress)
    status = _Status(folder, spec, address="serial", workers=1)
    searcher = make_optuna_searcher(spec, todo, [done[i] for i in sorted(done)]) if spec.search == "optuna" else None
    try:
        for k, item in enumerate(todo):
            if searcher is not None:
                item = searcher.suggest(f"serial_{k}")["trial"]
                index, params = item["index"], item["params"]
            else:
                index, params = item
            tally.start()
            try:
                doc = run_trial(spec, index, params, folder, threads=threads)
                tally.end("finished", doc["objective"])
                result = {"objective": doc["objective"]}
            except TrialFailed:
                tally.end("failed")
                result = None
            if searcher is not None:
                searcher.on_trial_complete(f"serial_{k}", result, error=result is None)
            status.write(counts=tally.snapshot())
    except KeyboardInterrupt:
        status.write(state="interrupted", counts=tally.snapshot())
        raise
    return _finish(folder, spec, "finished", tally, status)
