"""Workers forked by the zygote: fresh per candidate, isolated from each other, and the zygote survives
a candidate that crashes its worker."""

from __future__ import annotations

from pathlib import Path

import candidates as C

from drtriton.verify import Status, VerifierPool, VerifyConfig

PROBLEM = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
FAST = {"device": "cpu", "seeds": (0, 1), "timeout_s": 120}

# Leaves a mark on the torch module at import time; the honest kernel is otherwise unchanged.
LEAVES_MARK = C.candidate(
    """
x = x.contiguous()
y = torch.empty_like(x)
launch(x, y)
return y
""",
    extra="torch.drt_mark = 1",
)
# Fails (wrong values) if an earlier candidate's mark is visible in this process.
SEES_MARK = C.candidate(
    """
x = x.contiguous()
y = torch.empty_like(x)
launch(x, y)
return y + 1.0 if hasattr(torch, "drt_mark") else y
"""
)


def test_each_zygote_worker_is_a_fresh_copy_that_no_earlier_candidate_touched():
    config = VerifyConfig(disabled_rules=("patch.monkey_patch",), **FAST)
    with VerifierPool(config, workers=1, spawn="zygote") as pool:
        first = pool.verify(PROBLEM, LEAVES_MARK)
        second = pool.verify(PROBLEM, SEES_MARK)
    assert first.status is Status.CORRECT, first.reason
    assert second.status is Status.CORRECT, second.reason  # the mark did not survive into the next worker


def test_zygote_survives_a_segfaulting_candidate_and_serves_the_next():
    config = VerifyConfig(disabled_rules=C.FAULT_RULES_OFF + ("sandbox.runtime_event",), **FAST)
    with VerifierPool(config, workers=1, spawn="zygote", prespawn=False) as pool:
        crashed = pool.verify(PROBLEM, C.SEGFAULT_CTYPES)
        after = pool.verify(PROBLEM, C.HONEST)
        zygotes = list(pool._zygotes.values())
    assert crashed.status is Status.RUNTIME_ERROR and "SIGSEGV" in crashed.reason, crashed.reason
    assert after.status is Status.CORRECT, after.reason
    assert len(zygotes) == 1  # the same zygote, not a replacement


def test_spawn_mode_is_validated():
    import pytest

    from drtriton.util.errors import UsageError

    with pytest.raises(UsageError, match="spawn must be"):
        VerifierPool(VerifyConfig(**FAST), spawn="thread")
