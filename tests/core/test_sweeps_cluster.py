"""A real two-node Ray cluster on this machine: ``ray start --head`` and ``ray start --address`` as
separate processes, the sweep joining with ``--address``, its driver killed with SIGKILL partway and
the sweep resumed: finished trials kept untouched, trials recorded on both nodes.

Everything stays on loopback: the head gets node address 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
keeps Ray from swapping 127.0.0.1 for the machine's network address, and Ray then binds its servers
to 127.0.0.1 only); the second node is pointed at a host-name alias of 127.0.0.1, since Ray rewrites
the literal 127.0.0.1 / localhost of a joining node. Token authentication is on with a token made
here. Both nodes run in process groups of their own and are ended by group id, even when the test fails.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from kirchhoff_core.sweeps import SweepError, load_sweep
from kirchhoff_core.sweeps.records import trial_dir

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAY = pathlib.Path(sys.executable).parent / "ray"
pytestmark = pytest.mark.timeout(420)


def _loopback_alias() -> str | None:
    """A host name other than localhost that resolves to 127.0.0.1 (from /etc/hosts or the host name)."""
    names = [socket.gethostname()]
    try:
        for line in pathlib.Path("/etc/hosts").read_text().splitlines():
            parts = line.split("#")[0].split()
            if parts and parts[0] == "127.0.0.1":
                names += parts[1:]
    except OSError:
        pass
    for name in names:
        if name.lower() in ("localhost", "localhost.localdomain"):
            continue
        try:
            if socket.gethostbyname(name) == "127.0.0.1":
                return name
        except OSError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(predicate, seconds: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in procs:
            assert p.poll() is None, f"{what}: a Ray process exited early (status {p.returncode})"
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:g} s")


def _stop(proc: subprocess.Popen) -> None:
    """End the process group we started: SIGTERM, then SIGKILL for whatever is left."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            proc.poll()
            time.sleep(0.2)
        else:
            continue
        break
    proc.poll()


@pytest.fixture
def two_nodes(tmp_path):
    alias = _loopback_alias()
    if alias is None:
        pytest.skip("no host-name alias of 127.0.0.1 to point the second Ray node at")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="kray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    local = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("head", "node")}
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "1",
             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp, "--block"],
            env=local, stdout=logs["head"], stderr=subprocess.STDOUT, start_new_session=True))
        # once the head's GCS port is open the second node can start: it retries until the head is ready
        _wait_for(lambda: _accepts(port), 180, "the head's GCS port", procs)
        procs.append(subprocess.Popen(
            [str(RAY), "start", "--address", f"{alias}:{port}", "--num-cpus", "1", "--disable-usage-stats", "--block"],
            env={**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}, stdout=logs["node"], stderr=subprocess.STDOUT,
            start_new_session=True))
        head_log, node_log = tmp_path / "head.log", tmp_path / "node.log"
        for log, what in ((head_log, "ray start --head"), (node_log, "ray start --address")):
            _wait_for(lambda: b"Ray runtime started" in log.read_bytes(), 180, what, procs)
        assert b"Local node IP: 127.0.0.1" in head_log.read_bytes() and b"Local node IP: 127.0.0.1" in \
            node_log.read_bytes()
        yield f"127.0.0.1:{port}", local
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for f in logs.values():
            f.close()
        shutil.rmtree(temp, ignore_errors=True)


def _done(folder: pathlib.Path) -> int:
    try:
        return sum(t.done for t in load_sweep(folder).trials)
    except SweepError:  # not written yet
        return 0


def test_sweep_on_both_nodes_survives_a_killed_driver(two_nodes, tmp_path):
    address, env = two_nodes
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "kirchhoff_core", "sweep", "--address", address, "--space", "lr=1e-3:1e-1:log",
           "--search", "random", "--trials", "8", "--epochs", "60", "--samples", "200", "--chips", "0",
           "--early-stopping", "none", "--quiet", "--out", str(out)]
    # 60 epochs: about a second of training per trial, so the sweep cannot finish between two polls
    # (at 3 epochs, 0.05 s a trial, all eight were done before the kill once training got faster)
    log = open(tmp_path / "driver.log", "wb")
    driver = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: _done(out) >= 2, 240, "two trials done", [driver])
        os.kill(driver.pid, signal.SIGKILL)  # the driver crashes; the cluster lives on
        driver.wait(30)
    finally:
        _stop(driver)
        log.close()
    before = load_sweep(out)
    kept = {t.index: (trial_dir(out, t.index) / "trial.json").read_bytes() for t in before.trials if t.done}
    assert before.state == "interrupted" and 2 <= len(kept) < 8

    run = subprocess.run([sys.executable, "-m", "kirchhoff_core", "sweep", "resume", str(out), "--address", address,
                          "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    sweep = load_sweep(out)
    seen = [(t.index, t.state, t.node_id) for t in sweep.trials]
    assert [t.state for t in sweep.trials] == ["finished"] * 8, seen
    for index, blob in kept.items():  # nothing of a finished trial was lost or run again
        assert (trial_dir(out, index) / "trial.json").read_bytes() == blob
    assert sweep.status["address"] == address and sweep.status["workers"] == 2, (sweep.status, run.stderr[-2000:])
    assert len({t.node_id for t in sweep.trials}) == 2, seen  # two at once, one CPU per node: both nodes ran trials
    assert "re-train it with:" in run.stdout
