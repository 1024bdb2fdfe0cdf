"""Atomic writes: the file appears whole or not at all, wherever the path points."""

from pathlib import Path

import pytest

from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_open, atomic_write_text


def test_writes_through_a_path_with_dotdot_over_a_missing_folder(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "missing" / ".." / "b.txt", "x")
    assert (tmp_path / "b.txt").read_text() == "x"


def test_failed_write_leaves_no_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError, match="cannot create folder"):
        atomic_write_text(blocker / "sub" / "x.txt", "x")
