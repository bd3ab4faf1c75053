"""Files that survive a crash: write a temporary file in the target's folder, flush and fsync it,
then rename it over the target. A reader (or the next run after a kill) sees the complete old file
or the complete new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile


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


def _fsync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
