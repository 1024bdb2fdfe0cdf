"""GPU-only verifier checks (run by the lead on an H100: pytest -m gpu tests/verify)."""

from __future__ import annotations

from pathlib import Path

import candidates as C
import pytest
import torch

from drtriton.verify import Status, VerifierPool, VerifyConfig

PROBLEM = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@needs_gpu
def test_gpu_timing_is_measured_with_baselines_and_samples():
    with VerifierPool(VerifyConfig(device="cuda", n_timing=100), workers=1) as pool:
        v = pool.verify(PROBLEM, C.HONEST)
    assert v.status is Status.CORRECT, v.reason
    t = v.timing
    assert t is not None and t.candidate_ms > 0 and len(t.candidate_samples) == 100
    assert t.eager_ms is not None and v.speedup_vs_eager is not None and t.host_ms is not None


@pytest.mark.gpu
@needs_gpu
def test_gpu_illegal_address_is_runtime_error_and_pool_recovers():
    with VerifierPool(VerifyConfig(device="cuda", n_timing=10), workers=1) as pool:
        bad = pool.verify(PROBLEM, C.SEGFAULT_INTERPRETED)
        good = pool.verify(PROBLEM, C.HONEST)
    assert bad.status is Status.RUNTIME_ERROR and bad.reason
    assert good.status is Status.CORRECT, good.reason


@pytest.mark.gpu
@needs_gpu
def test_gpu_hybrid_share_rejects_token_kernel():
    with VerifierPool(
        VerifyConfig(device="cuda", policy="hybrid", min_triton_share=0.5, n_timing=20), workers=1
    ) as pool:
        v = pool.verify(PROBLEM, C.STRICT_TORCH_COMPUTE)
    assert v.status is Status.CHEAT_DETECTED and v.rule == "policy.triton_share"
