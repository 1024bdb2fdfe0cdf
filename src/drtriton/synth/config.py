"""SynthConfig: what to synthesize (level, knobs, count, seed, output); validated in __post_init__."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from drtriton.util.errors import UsageError

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl"}
_SAMPLERS: dict = {}  # space -> _core.Synthesizer, reused across synthesize() calls in one process
_MAX_SAMPLERS = 16


def _check_range(name: str, value: tuple[int, int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    lo, hi = (int(v) for v in value)
    if lo < 0 or lo > hi:
        raise UsageError(f"--{name} must be MIN:MAX with 0 <= MIN <= MAX, got {lo}:{hi}; e.g. --{name} 0:2")
    return (lo, hi)


@dataclass
class SynthConfig:
    """One synthesis job. CLI flags map 1:1 onto these fields (kebab-case)."""

    n: int = 1000                     # programs to write (or to draw for --coverage)
    level: int = 5                    # compute operators per program (1..32); sets the level table row
    seed: int = 0                     # base seed: row i is drawn from stream_seed(seed, i)
    out: Path | None = None           # .parquet or .jsonl; None only for coverage runs
    ops: tuple[str, ...] = ()         # allow-list of operator names (empty: all registered)
    exclude_ops: tuple[str, ...] = ()  # deny-list, applied after the allow-list
    heavy: tuple[int, int] | None = None        # (min, max) matmul/conv operators; None: level default
    reductions: tuple[int, int] | None = None   # (min, max) reducing operators; None: level default
    max_fanout: int | None = None     # most consumers of one operator's output; None: level default
    max_inputs: int | None = None     # most graph inputs; None: level default
    shape_scale: str = "small"        # small: CPU-test sizes; realistic: KernelBench-like (GPU)
    check_degenerate: bool = True     # run each program under torch and reject NaN/constant/insensitive
    # False: rows 0..P-1 (P = coverage strata, one per legal operator pair) are drawn exactly uniformly
    # inside one stratum each, in a seeded order, so every legal pair appears; later rows are uniform.
    # True: every row is uniform over all valid programs (docs/SYNTH.md, "Coverage-seeded streams").
    strict_uniform: bool = False
    chunk: int = 500                  # rows per atomic checkpoint of the output file (resume granularity)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n <= 0:
            raise UsageError(f"--n must be a positive integer, got {self.n}; pass --n 1000 or more")
        if not 1 <= int(self.level) <= 32:
            raise UsageError(f"--level must be in 1..32 (compute operators), got {self.level}; try 1, 2, 5 or 20")
        if not 0 <= int(self.seed) < 2**64:
            raise UsageError(f"--seed must be in 0..2**64-1, got {self.seed}")
        if self.shape_scale not in ("small", "realistic"):
            raise UsageError(f"--shape-scale must be small or realistic, got {self.shape_scale!r}")
        self.heavy = _check_range("heavy", self.heavy)
        self.reductions = _check_range("reductions", self.reductions)
        if self.max_fanout is not None and self.max_fanout < 1:
            raise UsageError(f"--max-fanout must be >= 1, got {self.max_fanout}")
        if self.max_inputs is not None and not 1 <= self.max_inputs <= 15:
            raise UsageError(f"--max-inputs must be in 1..15, got {self.max_inputs}")
        if self.chunk <= 0:
            raise UsageError(f"chunk must be positive, got {self.chunk}")
        self.ops, self.exclude_ops = tuple(self.ops), tuple(self.exclude_ops)
        if self.out is not None:
            self.out = Path(self.out)
            if self.out.suffix not in FORMATS:
                raise UsageError(f"--out must end in .parquet or .jsonl, got {self.out.name!r}")

    @property
    def format(self) -> str | None:
        return FORMATS[self.out.suffix] if self.out is not None else None

    def sampler(self):
        """The C++ sampler of this space (one per space and process: building its counting DP takes up
        to a second); bad operator names or infeasible knobs become UsageError."""
        key = (self.level, self.shape_scale, tuple(self.ops), tuple(self.exclude_ops), self.heavy,
               self.reductions, self.max_fanout, self.max_inputs)
        if key not in _SAMPLERS:
            from drtriton import _core

            try:
                sampler = _core.Synthesizer(
                    self.level, self.shape_scale, list(self.ops), list(self.exclude_ops), self.heavy,
                    self.reductions, self.max_fanout, self.max_inputs,
                )
            except ValueError as exc:  # _core.ValueError / InfeasibleError are ValueError subclasses
                raise UsageError(str(exc)) from None
            if len(_SAMPLERS) >= _MAX_SAMPLERS:
                _SAMPLERS.pop(next(iter(_SAMPLERS)))
            _SAMPLERS[key] = sampler
        return _SAMPLERS[key]

    def fingerprint(self) -> str:
        """Hash of every field that defines the rows (not n, out or chunk): resume checks it."""
        from drtriton import _core

        space = {
            "level": self.level, "seed": int(self.seed), "ops": sorted(self.ops),
            "exclude_ops": sorted(self.exclude_ops), "heavy": self.heavy, "reductions": self.reductions,
            "max_fanout": self.max_fanout, "max_inputs": self.max_inputs, "shape_scale": self.shape_scale,
            "check_degenerate": self.check_degenerate, "generator_version": _core.GENERATOR_VERSION,
            "strict_uniform": self.strict_uniform,
        }
        return hashlib.sha256(json.dumps(space, sort_keys=True).encode()).hexdigest()[:16]
