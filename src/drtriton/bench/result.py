"""One row of a benchmark: what a proposer produced for one problem and what the verifier said about it.

Statuses are the verifier's (correct, format_error, compile_error, runtime_error, timeout, incorrect,
cheat_detected) plus two of the runner's own: `no_candidate` (the proposer produced no ModelNew: the
rule compiler could not lower the program, no saved solution, …) and `bench_error` (the harness itself
failed; the reason says how). Every field that was not measured is None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

CORRECT = "correct"
NO_CANDIDATE = "no_candidate"
BENCH_ERROR = "bench_error"
VERIFIER_STATUSES = ("correct", "format_error", "compile_error", "runtime_error", "timeout", "incorrect",
                     "cheat_detected")
ALL_STATUSES = VERIFIER_STATUSES + (NO_CANDIDATE, BENCH_ERROR)


@dataclass(frozen=True, slots=True)
class ProblemResult:
    level: int
    problem_id: int
    name: str
    proposer: str
    status: str
    reason: str = ""
    rule: str | None = None  # anti-cheat rule id when status is cheat_detected
    speedup_vs_eager: float | None = None
    speedup_vs_compile: float | None = None
    candidate_ms: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    max_abs_err: float | None = None
    degenerate: bool | None = None  # None: the reference check did not run or did not finish
    degenerate_reason: str = ""
    propose_s: float | None = None
    verify_s: float | None = None

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    @property
    def key(self) -> str:
        return f"level{self.level}/{self.problem_id}_{self.name}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> "ProblemResult":
        known = {f.name for f in fields(ProblemResult)}
        return ProblemResult(**{k: v for k, v in data.items() if k in known})


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def verdict_fields(verdict: Any) -> dict[str, Any]:
    """The ProblemResult fields a verifier Verdict carries, read defensively (its JSON form or attributes)."""
    data = verdict.to_json() if hasattr(verdict, "to_json") else dict(vars(verdict))
    status = data.get("status")
    status = getattr(status, "value", status)
    timing = data.get("timing") or {}
    if not isinstance(timing, dict):
        timing = timing.to_json() if hasattr(timing, "to_json") else dict(vars(timing))

    def ms(*names: str) -> float | None:
        for n in names:
            if n in timing:
                return _finite_or_none(timing[n])
        return None

    return {
        "status": str(status),
        "reason": str(data.get("reason") or ""),
        "rule": data.get("rule"),
        "speedup_vs_eager": _finite_or_none(data.get("speedup_vs_eager")),
        "speedup_vs_compile": _finite_or_none(data.get("speedup_vs_compile")),
        "candidate_ms": ms("candidate_ms", "candidate_median_ms", "median_ms"),
        "eager_ms": ms("eager_ms", "reference_ms", "eager_median_ms", "reference_median_ms"),
        "compile_ms": ms("compile_ms", "compiled_ms", "compile_median_ms"),
        "max_abs_err": _finite_or_none(data.get("max_abs_err")),
    }
