"""Files that survive a crash: write a temporary file in the target's folder, flush and fsync it,
then rename it over the target. A reader (or the next run after a kill) sees the complete old file
or the complete new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
import time

STALE_TEMP_S = 600.0
"""A temporary file untouched this long was left by a killed writer (a live one writes continuously)."""


def atomic_write(path: str | os.PathLike, data: bytes | str) -> pathlib.Path:
    """Replace ``path`` with ``data`` atomically and durably; returns the path."""
    path = pathlib.Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def temp_files(path: str | os.PathLike) -> list[pathlib.Path]:
    """The temporary files ``atomic_write`` creates (or a killed writer left) for ``path``."""
    path = pathlib.Path(path)
    prefix = f".{path.name}."
    return [p for p in path.parent.glob(".*.tmp") if p.name.startswith(prefix)]


def remove_stale_temps(path: str | os.PathLike, older_than_s: float = STALE_TEMP_S) -> None:
    """Delete temporary files of ``path`` that a killed writer left behind (untouched for a while)."""
    now = time.time()
    for p in temp_files(path):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
