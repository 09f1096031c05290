"""Files a user names with `--out`: never overwritten silently, never left half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.errors import InputError


def check_out_file(path: Path | str, force: bool = False, flag: str = "--out", example: str = "") -> Path:
    """`path` as a Path, or an InputError when it is a folder, or an existing file without `force`.

    Call it before any slow work, so a refused file costs nothing."""
    path = Path(path)
    if path.is_dir():
        hint = f"; give a file name such as {path / example}" if example else "; give a file name"
        raise InputError(f"{flag} {path}: is a folder{hint}")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(f"{path} already exists; pass --force to overwrite it or choose another {flag}")
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` that replaces it when the block ends without an error; on an
    error (or a kill before the rename) `path` is unchanged and the temporary file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
