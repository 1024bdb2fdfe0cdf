"""Find KernelBench problems in a user's checkout (never vendored: we only read the path we are given).

    from drtriton.bench.problems import discover
    problems = discover("~/KernelBench", level=1, ids="1-10,23")

A checkout is either the repository root (holding KernelBench/level1 …) or that KernelBench folder itself.
A problem file is `NN_Name_Of_Problem.py`; its id is the leading number, unique within a level.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from drtriton.util.errors import UsageError

_PROBLEM_FILE = re.compile(r"^(\d+)_(.+)\.py$")  # any tail: upstream names carry digits, case, dashes
_LEVEL_DIR = re.compile(r"^level(\d+)$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One KernelBench problem file: where it is, its id, and a digest of its text (the cache key)."""

    level: int
    problem_id: int
    name: str  # the file name's tail, e.g. "Square_matrix_multiplication_"
    path: Path
    sha256: str

    @property
    def stem(self) -> str:  # "1_Square_matrix_multiplication_"
        return self.path.stem

    @property
    def key(self) -> str:  # "level1/1_Square_matrix_multiplication_": unique across levels
        return f"level{self.level}/{self.stem}"

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")


def resolve_root(path: str | Path) -> Path:
    """The folder holding level1/, level2/ …: `path/KernelBench` or `path` itself.

    Raises:
        UsageError: neither holds a levelN folder.
    """
    base = Path(path).expanduser()
    if not base.is_dir():
        raise UsageError(f"--path {str(path)!r} is not a folder; pass the root of a KernelBench checkout "
                         "(git clone https://github.com/ScalingIntelligence/KernelBench)")
    for candidate in (base / "KernelBench", base):
        if candidate.is_dir() and any(_LEVEL_DIR.match(p.name) for p in candidate.iterdir() if p.is_dir()):
            return candidate
    raise UsageError(f"no level1/, level2/ … folder under {str(base)!r} or {str(base / 'KernelBench')!r}; "
                     "pass the KernelBench checkout root or its KernelBench/ folder")


def available_levels(root: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := _LEVEL_DIR.match(p.name)))


def parse_ids(spec: str | None) -> set[int] | None:
    """'1-5,9,12-13' -> {1,2,3,4,5,9,12,13}; None or '' or 'all' -> None (every problem).

    Raises:
        UsageError: a part is not an integer or a low-high range.
    """
    if spec is None or spec.strip() in ("", "all"):
        return None
    ids: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UsageError(f"--problems part {part!r} is not an id or a range; write e.g. --problems "
                             "1-10,23")
        low, high = int(m.group(1)), int(m.group(2) or m.group(1))
        if high < low:
            raise UsageError(f"--problems range {part!r} runs backwards; write it low-high, e.g. "
                             f"{high}-{low}")
        ids.update(range(low, high + 1))
    return ids


def discover(path: str | Path, level: int, ids: str | set[int] | None = None) -> list[Problem]:
    """Every problem of `level` under the checkout at `path`, sorted by id, optionally only `ids`.

    Raises:
        UsageError: the checkout, the level or a requested id is missing, or two files share an id.
    """
    root = resolve_root(path)
    level_dir = root / f"level{level}"
    if not level_dir.is_dir():
        raise UsageError(f"--level {level} has no folder {str(level_dir)!r}; levels here: "
                         f"{available_levels(root)}")
    wanted = parse_ids(ids) if isinstance(ids, str) or ids is None else set(ids)
    by_id: dict[int, Problem] = {}
    for file in sorted(level_dir.iterdir()):
        m = _PROBLEM_FILE.match(file.name)
        if not m or not file.is_file():
            continue
        pid = int(m.group(1))
        if pid in by_id:
            raise UsageError(f"two problems share id {pid} in {str(level_dir)!r}: {by_id[pid].path.name} and "
                             f"{file.name}; rename one")
        by_id[pid] = Problem(level=level, problem_id=pid, name=m.group(2), path=file,
                             sha256=hashlib.sha256(file.read_bytes()).hexdigest())
    if not by_id:
        raise UsageError(f"no NN_Name.py problem files in {str(level_dir)!r}; is this a KernelBench "
                         "checkout?")
    if wanted is not None:
        missing = sorted(wanted - by_id.keys())
        if missing:
            raise UsageError(f"--problems asks for ids {missing[:10]} that level {level} does not have "
                             f"(it has {min(by_id)}..{max(by_id)})")
        by_id = {pid: p for pid, p in by_id.items() if pid in wanted}
    return [by_id[pid] for pid in sorted(by_id)]
