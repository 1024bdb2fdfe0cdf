"""A fixed held-out subset of KernelBench, recorded once, so trained models are judged on problems disjoint
from anything used to tune them.

    drtriton bench split --path ~/KernelBench --fraction 0.3 --seed 0 --out splits/kernelbench.json
    drtriton bench kernelbench --path ~/KernelBench --level 1 --split heldout --split-file splits/kernelbench.json

Selection is stratified by level: within each level, problems are ranked by sha256("{seed}:{level}:{stem}")
and the first ceil(fraction * n) are held out. The rank depends only on the seed and the file name, so a
split file can be re-derived, and a checkout that gains problems does not reshuffle the old ones. The file
records each problem's content digest; a later run warns when a problem file changed since.
Training code excludes problems with `load_split(path).is_heldout(level, stem)`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from drtriton.bench.problems import Problem, available_levels, discover, resolve_root
from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_write_text
from drtriton.util.provenance import Provenance

SPLIT_NAMES = ("heldout", "tune")


@dataclass(frozen=True, slots=True)
class Split:
    seed: int
    fraction: float
    heldout: dict[int, tuple[str, ...]]  # level -> held-out problem stems
    tune: dict[int, tuple[str, ...]]  # level -> the rest
    sha256: dict[str, str]  # "level{N}/{stem}" -> content digest when the split was made

    def is_heldout(self, level: int, stem: str) -> bool:
        return stem in self.heldout.get(level, ())

    def members(self, name: str, level: int) -> tuple[str, ...]:
        if name not in SPLIT_NAMES:
            raise UsageError(f"--split must be one of {SPLIT_NAMES}, got {name!r}")
        return (self.heldout if name == "heldout" else self.tune).get(level, ())

    def select(self, name: str, problems: list[Problem]) -> tuple[list[Problem], list[str]]:
        """The problems in split `name`, plus a warning line for each that changed since the split."""
        chosen, warnings = [], []
        for p in problems:
            if p.stem in self.members(name, p.level):
                chosen.append(p)
                recorded = self.sha256.get(p.key)
                if recorded and recorded != p.sha256:
                    warnings.append(f"{p.key} changed since the split was recorded")
        return chosen, warnings

    def to_json(self) -> dict:
        return {"seed": self.seed, "fraction": self.fraction,
                "levels": {str(lv): {"heldout": list(self.heldout[lv]), "tune": list(self.tune.get(lv, ()))}
                           for lv in sorted(self.heldout)},
                "sha256": self.sha256}


def _rank(seed: int, problem: Problem) -> str:
    return hashlib.sha256(f"{seed}:{problem.level}:{problem.stem}".encode()).hexdigest()


def make_split(problems: list[Problem], fraction: float, seed: int) -> Split:
    """Stratified held-out split of `problems` (any levels mixed)."""
    if not 0 < fraction < 1:
        raise UsageError(f"--fraction must be between 0 and 1 (exclusive), got {fraction}; try 0.3")
    heldout: dict[int, tuple[str, ...]] = {}
    tune: dict[int, tuple[str, ...]] = {}
    for level in sorted({p.level for p in problems}):
        ranked = sorted((p for p in problems if p.level == level), key=lambda p: _rank(seed, p))
        k = math.ceil(fraction * len(ranked))
        heldout[level] = tuple(sorted((p.stem for p in ranked[:k]), key=_id_order))
        tune[level] = tuple(sorted((p.stem for p in ranked[k:]), key=_id_order))
    return Split(seed, fraction, heldout, tune, {p.key: p.sha256 for p in problems})


def _id_order(stem: str) -> tuple[int, str]:
    head, _, _ = stem.partition("_")
    return (int(head) if head.isdigit() else 1 << 30, stem)


def split_checkout(path: str | Path, fraction: float, seed: int) -> Split:
    """A split over every level of the checkout at `path`."""
    root = resolve_root(path)
    problems = [p for level in available_levels(root) for p in discover(root, level)]
    return make_split(problems, fraction, seed)


def save_split(split: Split, path: Path) -> None:
    record = {**split.to_json(), "provenance": Provenance.here().to_json()}
    atomic_write_text(Path(path).resolve(), json.dumps(record, indent=1) + "\n")  # resolved: "a/../b" safe


def load_split(path: str | Path) -> Split:
    """Reads a split file written by save_split.

    Raises:
        UsageError: the file is missing or is not a split file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        levels = data["levels"]
        return Split(
            seed=int(data["seed"]), fraction=float(data["fraction"]),
            heldout={int(lv): tuple(v["heldout"]) for lv, v in levels.items()},
            tune={int(lv): tuple(v["tune"]) for lv, v in levels.items()},
            sha256=dict(data.get("sha256", {})))
    except FileNotFoundError:
        raise UsageError(f"split file {str(path)!r} does not exist; make one with drtriton bench split "
                         "--path CHECKOUT --out FILE") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{str(path)!r} is not a split file ({type(exc).__name__}: {exc}); remake it with "
                         "drtriton bench split") from None
