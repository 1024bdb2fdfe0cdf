"""Verifier: sandboxed correctness, anti-cheat and GPU timing for candidate Triton kernels (DESIGN §4).

from drtriton.verify import verify, VerifyConfig
verdict = verify(problem_src, candidate_src, VerifyConfig(policy="mixed"))
"""

from drtriton.verify.config import VerifyConfig
from drtriton.verify.pool import VerifierPool, verify
from drtriton.verify.rules import RULES, Rule
from drtriton.verify.verdict import Status, Timing, Verdict

__all__ = ["RULES", "Rule", "Status", "Timing", "Verdict", "VerifierPool", "VerifyConfig", "verify"]
