"""The rule-based proposer: the code generator over its knob space (block sizes, warps, stages).

Fusion splits are explored by search itself (every fragment is a split); this proposer tunes how one
fragment is lowered. The first candidate is always the generator's default knobs (the single-shot
output). Without a GPU no knob can be told apart by speed, so only the defaults are proposed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer

# Knob names of `_core.emit_triton` (TritonKnobs); block sizes, warps and stages a Triton tutorial kernel
# would sweep. Values the generator does not use for a fragment's kernels simply leave its output alone.
DEFAULT_SPACE: dict[str, tuple] = {
    "block": (1024, 256, 2048, 512, 128),
    "num_warps": (4, 8, 2),
    "num_stages": (2, 3, 4),
}


def knob_grid(space: dict[str, tuple] | None = None) -> list[dict]:
    """[{}] (the defaults) followed by every combination of the space, in a spread-out order."""
    space = space or DEFAULT_SPACE
    keys = sorted(space)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(space[k] for k in keys))]
    # Interleave so that a small budget still sees different block sizes, not only warp variations.
    combos.sort(key=lambda d: (d.get("num_stages", 0) != space.get("num_stages", (0,))[0],
                               d.get("num_warps", 0) != space.get("num_warps", (0,))[0]))
    return [{}, *combos]


class RuleProposer(Proposer):
    """Lowers the fragment with `emit(task, knobs) -> source` for successive knob settings.

    Args:
        emit: the code generator (Backend.emit_triton); a failing emit yields no candidate and is
            recorded in `errors`.
        tune: propose knob variations beyond the defaults (only useful where speed is measured).
        space: knob space; DEFAULT_SPACE when None.
    """

    name = "rule"

    def __init__(self, emit: Callable[[FragmentTask, dict], str], tune: bool, space: dict | None = None):
        self.emit = emit
        self.grid = knob_grid(space) if tune else [{}]
        self.cursor: dict[str, int] = {}
        self.errors: list[str] = []

    def propose(self, task: FragmentTask, n: int, feedback: Sequence[Feedback] = ()) -> list[Candidate]:
        out: list[Candidate] = []
        start = self.cursor.get(task.key, 0)
        i = start
        while len(out) < n and i < len(self.grid):
            knobs = self.grid[i]
            i += 1
            try:
                source = self.emit(task, knobs)
            except Exception as exc:  # noqa: BLE001 - a knob the generator refuses is not fatal to search
                self.errors.append(f"emit_triton({knobs}) failed: {type(exc).__name__}: {exc}")
                if not knobs:
                    break  # the defaults do not lower: no knob will
                continue
            if any(c.source == source for c in out):
                continue  # a knob this fragment's kernels do not use: same file, nothing to verify
            out.append(Candidate(source, self.name, {"knobs": knobs}))
        self.cursor[task.key] = i
        return out
