"""Where results go, checked before the work that produces them starts.

A training run that ends in "Not a directory" after an hour has lost the hour. These checks run
first: an output file must not be a folder, an output folder must not be a file, no part of the
path may be a file (``/dev/null/run``), and the folder must accept a new file. Missing parent
folders are created, as ``save_circuit`` does. Problems raise ``OutputPathError`` (a ValueError),
which the CLI prints as its one ``error:`` line.
"""

from __future__ import annotations

import os
import pathlib
import tempfile


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names the path and the reason."""


def _usable_folder(folder: pathlib.Path, what: str, target: pathlib.Path) -> None:
    """Create ``folder`` (and its parents) unless it exists, then check a file can be made in it."""
    for ancestor in [folder, *folder.parents]:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise OutputPathError(f"{what}: {ancestor} is a file, not a folder, so {target} cannot be written")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OutputPathError(f"{what}: cannot write in {folder} ({e.strerror or e})") from None


def prepare_output_file(path: str | os.PathLike, what: str = "--out") -> pathlib.Path:
    """Check that ``path`` can be written as a file (creating missing parent folders)."""
    path = pathlib.Path(path)
    if path.name in ("", ".", ".."):
        raise OutputPathError(f"{what}: {str(path)!r} names a folder; give a file name")
    if path.is_dir():
        raise OutputPathError(f"{what}: {path} is a folder; give a file name")
    _usable_folder(path.parent, what, path)
    return path


def prepare_output_dir(path: str | os.PathLike, what: str = "--out") -> pathlib.Path:
    """Check that ``path`` is, or can be made, a folder that accepts new files (and make it)."""
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{what}: {path} is a file, not a folder")
    _usable_folder(path, what, path)
    return path
