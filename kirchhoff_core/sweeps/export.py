"""A sweep as one download: its table and curves as CSV plus every trial's record and circuit, zipped
in memory (what the Sweep page offers; ``unzip`` gives a folder that ``kirchhoff sweep show`` and
``load_sweep`` read like the original). Ray's own files (``ray/``) are left out: they are pickles
the playground never reads.
"""

from __future__ import annotations

import io
import pathlib
import zipfile

from .records import SWEEP_FILE, TRIALS_DIR, load_sweep
from .space import SweepError

MAX_ARCHIVE_BYTES = 500_000_000
"""Largest sweep folder (before compression) that is zipped in memory; beyond it, copy the folder."""
_TOP_FILES = (SWEEP_FILE, "status.json", "proposals.json", "driver.log")


def _members(folder: pathlib.Path) -> list[pathlib.Path]:
    files = [folder / name for name in _TOP_FILES if (folder / name).is_file()]
    trials = folder / TRIALS_DIR
    if trials.is_dir():
        files += sorted(p for p in trials.rglob("*") if p.is_file() and not p.name.startswith("."))
    return files


def sweep_archive(folder: str | pathlib.Path) -> bytes:
    """The sweep in ``folder`` as zip bytes: ``NAME/table.csv`` (the trials, best first),
    ``NAME/curves.csv`` (every trial's per-epoch records), and the folder's own files."""
    folder = pathlib.Path(folder)
    state = load_sweep(folder)  # raises SweepError for a folder that holds no sweep
    members = _members(folder)
    size = sum(p.stat().st_size for p in members)
    if size > MAX_ARCHIVE_BYTES:
        raise SweepError(f"{folder}: {size / 1e6:.0f} MB is too large to zip in memory (limit "
                         f"{MAX_ARCHIVE_BYTES / 1e6:.0f} MB); copy the folder instead")
    name = folder.resolve().name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}/table.csv", state.table().to_csv(index=False))
        z.writestr(f"{name}/curves.csv", state.curves().to_csv(index=False))
        for path in members:
            z.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()
