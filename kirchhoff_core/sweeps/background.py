"""A sweep in a background process, for a page: start it, poll its folder, stop it.

The sweep runs as ``python -m kirchhoff_core sweep resume DIR`` in its own process group, so Ray
(one private instance per sweep) never lives inside the web server, two sessions' sweeps never
share state, and Stop is a Ctrl-C to that process (the folder keeps every trial that was done; a
later ``start`` on the same folder resumes). Bad settings are refused here, before the process
starts, with the same ``SweepError`` the command line prints.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

from .records import SweepState, load_sweep
from .runner import check_space, prepare_folder
from .space import SweepError
from .spec import SweepSpec

LOG_FILE = "driver.log"


class SweepProcess:
    """Handle on a sweep running in the background (``start``), or on any sweep folder."""

    def __init__(self, folder: str | pathlib.Path, process: subprocess.Popen | None = None):
        self.folder = pathlib.Path(folder).resolve()
        self.process = process

    @classmethod
    def start(cls, spec: SweepSpec, folder: str | pathlib.Path, address: str | None = None,
              workers: int | None = None, serial: bool = False) -> "SweepProcess":
        """Check ``spec``, write (or reopen) the folder and start the driver process (``serial``:
        one trial after another without Ray, which needs ``early_stopping="none"``)."""
        folder = pathlib.Path(folder).resolve()
        if serial and (address or spec.early_stopping != "none"):
            raise SweepError("serial: runs one trial after another without Ray, so it takes neither a cluster "
                             "address nor early stopping (set early_stopping to none)")
        check_space(spec)
        prepare_folder(spec, folder)
        cmd = [sys.executable, "-m", "kirchhoff_core", "sweep", "resume", str(folder), "--quiet"]
        if address:
            cmd += ["--address", address]
        if workers:
            cmd += ["--workers", str(workers)]
        if serial:
            cmd += ["--serial"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        root = str(pathlib.Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        with open(folder / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        return cls(folder, proc)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def state(self) -> SweepState:
        """The sweep as its folder says now (trials, curves, best, driver status)."""
        return load_sweep(self.folder)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the driver's output (its ``error: ...`` line when it failed)."""
        path = self.folder / LOG_FILE
        try:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - chars))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def interrupt(self) -> bool:
        """Ctrl-C the driver without waiting (a page must not block); ``alive`` turns False once it
        has shut down. False when there is no running driver of this handle."""
        if not self.alive:
            return False
        try:
            self.process.send_signal(signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Ctrl-C the driver and wait; after ``timeout_s`` end its process group. Returns its exit code."""
        if not self.alive:
            return self.returncode
        for sig, wait in ((signal.SIGINT, timeout_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                if sig == signal.SIGINT:
                    self.process.send_signal(sig)
                else:
                    os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.alive:
                time.sleep(0.1)
            if not self.alive:
                break
        return self.returncode
