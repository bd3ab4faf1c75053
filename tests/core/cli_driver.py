"""Running the CLI from tests: one subprocess per command, or many argument lists in one interpreter
(``DRIVER``: each list through ``python -m kirchhoff_core``, exit code and output collected as JSON)."""

from __future__ import annotations

import os
import pathlib
import subprocess

TIMEOUT = 300
ROOT = pathlib.Path(__file__).resolve().parents[2]

DRIVER = r"""
import contextlib, io, json, runpy, sys, traceback
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["kirchhoff", *argv]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module("kirchhoff_core", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    results.append({"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
sys.__stdout__.write(json.dumps(results))
"""


def run(cmd: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """One command on one BLAS/OpenMP thread (tests run several side by side), bounded in time."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env)


def run_in_process(capsys, *argv) -> tuple[int, str, str]:
    """``kirchhoff ARGV`` in this process: (exit code, stdout, stderr)."""
    from kirchhoff_core.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err
