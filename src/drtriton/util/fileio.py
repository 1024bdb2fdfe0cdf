"""Atomic writes: write to a temp file in the same folder, fsync, then rename, so a reader (or a resumed
job) never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from drtriton.util.errors import UsageError


def check_writable_dir(path: Path) -> None:
    """Raises UsageError unless `path`'s parent folder exists (or can be made) and is writable."""
    parent = path.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create folder {parent} ({exc.strerror}); pick another --out path") from None
    if not os.access(parent, os.W_OK):
        raise UsageError(f"folder {parent} is not writable; pick another --out path")


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Opens a temp file beside `path`; on success renames it over `path`, on error removes it."""
    path = Path(path).resolve()  # so `a/missing/../b` renames to the folder the temp file was made in
    check_writable_dir(path)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
