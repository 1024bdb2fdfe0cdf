"""KernelBench metrics over benchmark rows: pure functions, no I/O.

fast_p (KernelBench's definition): the share of ALL problems whose kernel is correct AND more than p times
faster than the baseline (strictly greater). fast_0 is therefore the share of correct kernels. We report
p = 0, 1, 1.5, 2 against eager PyTorch and against torch.compile, and two geometric-mean speedups:
  - over correct kernels only;
  - over all problems, counting each problem without a correct kernel as 1.0x (the user falls back to the
    reference), which is what a user of the generator would actually get.
Anything that needs a timing is None when a correct kernel has no timing (CPU runs): not measured, never 0.
Degenerate problems (near-constant or input-insensitive reference output) are summarised separately.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from drtriton.bench.result import ALL_STATUSES, ProblemResult

THRESHOLDS = (0.0, 1.0, 1.5, 2.0)
BASELINES = ("eager", "compile")


@dataclass(frozen=True, slots=True)
class FastP:
    """fast_p and geomeans against one baseline."""

    baseline: str  # "eager" or "compile"
    n: int  # problems in the denominator
    n_correct: int
    n_timed: int  # correct kernels with a measured speedup against this baseline
    fast: dict[float, float | None]  # p -> share of all n problems (None: not measured)
    geomean_correct: float | None  # over correct kernels
    geomean_all: float | None  # over all n problems, no correct kernel counted as 1.0x

    def to_json(self) -> dict:
        return {"baseline": self.baseline, "n": self.n, "n_correct": self.n_correct, "n_timed": self.n_timed,
                "fast": {f"fast_{p:g}": v for p, v in self.fast.items()},
                "geomean_correct": self.geomean_correct, "geomean_all": self.geomean_all}


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every headline number for one group of rows."""

    n: int
    counts: dict[str, int]  # status -> rows, every status listed (zeros included)
    vs: dict[str, FastP] = field(default_factory=dict)  # baseline -> FastP

    def to_json(self) -> dict:
        return {"n": self.n, "counts": self.counts, "vs": {b: f.to_json() for b, f in self.vs.items()}}


@dataclass(frozen=True, slots=True)
class Summary:
    """Headline metrics exclude degenerate problems; those are reported on their own, never dropped."""

    headline: Metrics  # degenerate is False or None (unchecked rows stay in; n_unchecked says how many)
    degenerate: Metrics  # reference output near-constant or input-insensitive
    overall: Metrics  # every row
    n_unchecked: int  # rows whose reference check did not run or finish

    def to_json(self) -> dict:
        return {"headline": self.headline.to_json(), "degenerate": self.degenerate.to_json(),
                "overall": self.overall.to_json(), "n_unchecked": self.n_unchecked,
                "note": "fast_p = share of all problems that are correct and > p x faster (strict); "
                        "geomean_all counts problems without a correct kernel as 1.0x; None = not measured"}


def geomean(values: Sequence[float]) -> float | None:
    """Geometric mean of positive numbers; None for an empty sequence.

    Raises:
        ValueError: a value is not positive and finite (a speedup never is).
    """
    if not values:
        return None
    for v in values:
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"geomean needs positive finite values, got {v!r}")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _speedup(row: ProblemResult, baseline: str) -> float | None:
    return row.speedup_vs_eager if baseline == "eager" else row.speedup_vs_compile


def fast_p(rows: Sequence[ProblemResult], baseline: str, thresholds: Sequence[float] = THRESHOLDS) -> FastP:
    """fast_p at each threshold and both geomeans against `baseline` ("eager" or "compile")."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    n = len(rows)
    correct = [r for r in rows if r.correct]
    speedups = [s for r in correct if (s := _speedup(r, baseline)) is not None]
    all_timed = len(speedups) == len(correct)  # a correct kernel without a timing makes fast_p>0 unknown
    fast: dict[float, float | None] = {}
    for p in thresholds:
        if n == 0:
            fast[p] = None
        elif p == 0:
            fast[p] = len(correct) / n  # needs no timing: every correct kernel has speedup > 0
        else:
            fast[p] = sum(1 for s in speedups if s > p) / n if all_timed else None
    geo_correct = geomean(speedups) if (all_timed and correct) else None
    geo_all = geomean(speedups + [1.0] * (n - len(correct))) if (all_timed and n) else None
    return FastP(baseline=baseline, n=n, n_correct=len(correct), n_timed=len(speedups), fast=fast,
                 geomean_correct=geo_correct, geomean_all=geo_all)


def metrics(rows: Sequence[ProblemResult]) -> Metrics:
    counts = Counter(r.status for r in rows)
    ordered = {s: counts.get(s, 0) for s in ALL_STATUSES}
    ordered.update({s: c for s, c in counts.items() if s not in ordered})  # an unforeseen status still shows
    return Metrics(n=len(rows), counts=ordered, vs={b: fast_p(rows, b) for b in BASELINES})


def summarize(rows: Sequence[ProblemResult]) -> Summary:
    return Summary(
        headline=metrics([r for r in rows if r.degenerate is not True]),
        degenerate=metrics([r for r in rows if r.degenerate is True]),
        overall=metrics(rows),
        n_unchecked=sum(1 for r in rows if r.degenerate is None),
    )
