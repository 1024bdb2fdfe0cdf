"""Decoupled rewards over verifier verdicts: plain callables shared by our trainer, TRL and the verl adapter.

    from drtriton.train.rewards import r_correct, r_speed, grpo_reward
    r_correct(verdict), r_speed(verdict), grpo_reward(verdict)

Correctness and speed are separate signals (DESIGN §5): `r_correct` is 1 only for a verdict with status
`correct` (format errors and cheats are 0 and flagged); `r_speed` is the log speedup vs eager, defined only
for correct candidates whose speed was measured (None otherwise: speed never buys back incorrectness).
Any object with `.status` and `.speedup_vs_eager` works (the verifier's Verdict, or an Outcome below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

CORRECT = "correct"
FORMAT_ERROR = "format_error"
COMPILE_ERROR = "compile_error"
CHEAT_DETECTED = "cheat_detected"
# Statuses whose zero reward is flagged: the answer broke the rules rather than merely being wrong.
FLAGGED = frozenset({FORMAT_ERROR, CHEAT_DETECTED})
# Statuses that mean "the code did not even build": the complement is the compile rate.
NOT_COMPILED = frozenset({FORMAT_ERROR, COMPILE_ERROR})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict fields rewards need, for answers that never reached the verifier (format errors)."""

    status: str
    reason: str = ""
    speedup_vs_eager: float | None = None

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason, "speedup_vs_eager": self.speedup_vs_eager}


def status_of(verdict: Any) -> str:
    """The verdict's status as a plain string (Status is a StrEnum; Outcome holds a str)."""
    return str(getattr(verdict.status, "value", verdict.status))


def r_correct(verdict: Any) -> float:
    """1.0 for a correct candidate, else 0.0 (gated: no partial credit for near misses)."""
    return 1.0 if status_of(verdict) == CORRECT else 0.0


def is_flagged(verdict: Any) -> bool:
    """True when the zero reward comes from a rule break (format error, anti-cheat), not a wrong answer."""
    return status_of(verdict) in FLAGGED


def r_speed(verdict: Any) -> float | None:
    """log(speedup vs eager) for a correct candidate with a measured speedup, else None."""
    if status_of(verdict) != CORRECT:
        return None
    speedup = getattr(verdict, "speedup_vs_eager", None)
    if speedup is None or not math.isfinite(speedup) or speedup <= 0:
        return None
    return math.log(speedup)


def grpo_reward(verdict: Any) -> float:
    """The GRPO baseline's scalar: 1 + log(speedup) if correct, else 0.

    An unmeasured speedup (CPU, interpreter) counts as 1x, so the reward is then pure correctness.
    """
    if status_of(verdict) != CORRECT:
        return 0.0
    speed = r_speed(verdict)
    return 1.0 + (speed if speed is not None else 0.0)
