"""The hybrid policy's ablation check (worker.CandidateRun.triton_effect, LaunchCounter.suppressed): with
every Triton launch skipped, do ModelNew's outputs change?"""

from __future__ import annotations

from pathlib import Path

import pytest

from drtriton.verify import Status, VerifierPool, VerifyConfig

TESTS = Path(__file__).resolve().parents[1]
MATMUL_SOFTMAX = (TESTS / "problems" / "matmul_softmax.py").read_text()

_KERNEL = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scale_kernel(x_ptr, out_ptr, n, s, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * s, mask=mask)
'''

# the kernel writes a flag the torch part checks: without it, forward raises (an effect, never a reject)
RAISES_WITHOUT_KERNEL = _KERNEL + '''

class ModelNew(nn.Module):
    def forward(self, q, k):
        out = torch.softmax(q @ k, dim=-1).contiguous()
        flag = torch.zeros(1, device=out.device)
        one = torch.ones(1, device=out.device)
        scale_kernel[(1,)](one, flag, 1, 1.0, BLOCK=16)
        if float(flag) != 1.0:
            raise RuntimeError("no flag")
        return out
'''

# a kernel that rewrites the whole output with x * 1.0: every bit unchanged, so nothing depends on it
IDENTITY_PASS = _KERNEL + '''

class ModelNew(nn.Module):
    def forward(self, q, k):
        out = torch.softmax(q @ k, dim=-1).contiguous()
        scale_kernel[(triton.cdiv(out.numel(), 256),)](out, out, out.numel(), 1.0, BLOCK=256)
        return out
'''


def test_launches_inside_suppressed_do_not_run_and_are_not_counted():
    import torch
    import triton
    import triton.language as tl

    from drtriton.verify.sandbox import LaunchCounter

    @triton.jit
    def fill(out_ptr, BLOCK: tl.constexpr):
        tl.store(out_ptr + tl.arange(0, BLOCK), tl.full((BLOCK,), 7.0, tl.float32))

    counter = LaunchCounter()
    counter.install()
    try:
        out = torch.zeros(16)
        with counter.suppressed():
            fill[(1,)](out, BLOCK=16)
        assert counter.total() == 0 and bool((out == 0).all())
        fill[(1,)](out, BLOCK=16)
        assert counter.total() == 1 and bool((out == 7).all())
    finally:
        counter.uninstall()


@pytest.mark.parametrize("src, status", [(RAISES_WITHOUT_KERNEL, Status.CORRECT),
                                         (IDENTITY_PASS, Status.CHEAT_DETECTED)], ids=["raises", "identity"])
def test_hybrid_ablation_counts_failures_as_an_effect_and_rejects_a_no_op_pass(src, status):
    cfg = VerifyConfig(device="cpu", seeds=(0, 1), policy="hybrid")
    with VerifierPool(cfg, workers=1) as pool:
        verdict = pool.verify(MATMUL_SOFTMAX, src)
    assert verdict.status is status, verdict.reason
    if status is Status.CORRECT:
        assert verdict.phase_s["triton_effect_s"] > 0
    if status is Status.CHEAT_DETECTED:
        assert verdict.rule == "policy.triton_share" and "bit-identical" in verdict.reason


def test_the_ablation_check_runs_only_under_hybrid():
    cfg = VerifyConfig(device="cpu", seeds=(0,), policy="hybrid", disabled_rules=("policy.triton_share",))
    with VerifierPool(cfg, workers=1) as pool:
        verdict = pool.verify(MATMUL_SOFTMAX, IDENTITY_PASS)
    assert verdict.status is Status.CORRECT, verdict.reason
    assert "triton_effect_s" not in verdict.phase_s
