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


@pytest.mark.gpu
@needs_gpu
def test_gpu_compile_baseline_is_timed_once_per_problem_in_a_clean_worker():
    config = VerifyConfig(device="cuda", n_timing=20)
    other = C.HONEST.replace("BLOCK=256", "BLOCK=128").replace("cdiv(n, 256)", "cdiv(n, 128)")
    with VerifierPool(config, workers=2) as pool:
        a, b = pool.verify_many([(PROBLEM, C.HONEST), (PROBLEM, other)])
    for v in (a, b):
        assert v.status is Status.CORRECT, v.reason
        assert v.timing.compile_scope == "problem" and v.timing.compile_ms > 0
        assert v.speedup_vs_compile is not None and len(v.timing.compile_samples) == 20
    assert a.timing.compile_samples == b.timing.compile_samples  # one measurement, shared


@pytest.mark.gpu
@needs_gpu
def test_gpu_compile_baseline_per_candidate_still_available():
    config = VerifyConfig(device="cuda", n_timing=20, compile_scope="candidate")
    with VerifierPool(config, workers=1) as pool:
        v = pool.verify(PROBLEM, C.HONEST)
    assert v.status is Status.CORRECT, v.reason
    assert v.timing.compile_scope == "candidate" and v.timing.compile_ms > 0


GPU_FAULTS = {  # name: (candidate, rules switched off so the fault itself is reached, expected status)
    "illegal_address": (C.SEGFAULT_INTERPRETED, (), Status.RUNTIME_ERROR),
    "gpu_out_of_memory": (C.GPU_HUGE_ALLOC, (), Status.RUNTIME_ERROR),
    "host_out_of_memory": (C.HUGE_ALLOC, (), Status.RUNTIME_ERROR),
    "os_exit": (C.OS_EXIT, C.FAULT_RULES_OFF, Status.RUNTIME_ERROR),
    "fork": (C.FORK, C.FAULT_RULES_OFF, Status.CHEAT_DETECTED),
    "huge_print": (C.HUGE_PRINT, (), Status.RUNTIME_ERROR),
    "gpu_hang": (C.GPU_HANG, (), Status.TIMEOUT),
}


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("name", sorted(GPU_FAULTS))
def test_gpu_fault_gets_a_verdict_and_the_pool_serves_the_next_candidate(name):
    src, off, expected = GPU_FAULTS[name]
    # A hang in the first call meets the first-call allowance: both at 60 s here.
    config = VerifyConfig(device="cuda", n_timing=10, timeout_s=60, first_call_timeout_s=60, disabled_rules=off)
    with VerifierPool(config, workers=2) as pool:
        bad, good = pool.verify_many([(PROBLEM, src), (PROBLEM, C.HONEST)])
        after = pool.verify(PROBLEM, C.HONEST.replace("BLOCK=256", "BLOCK=512").replace("256)", "512)"))
    assert bad.status is expected, (bad.status, bad.reason)
    assert bad.reason
    assert good.status is Status.CORRECT, good.reason
    assert after.status is Status.CORRECT, after.reason


# ---- the judge: reference outputs stay on the GPU, candidates' outputs arrive by CUDA IPC ----
BIG = 1 << 28  # 1 GiB of float32 per output: ten cases no longer cross any pipe
BIG_PROBLEM = PROBLEM.replace("torch.randn(BATCH, DIM)", f"torch.randn({BIG})")


@pytest.mark.gpu
@needs_gpu
def test_gpu_judge_compares_gigabyte_outputs_without_shipping_them():
    assert f"torch.randn({BIG})" in BIG_PROBLEM, "tests/problems/relu.py changed: update BIG_PROBLEM"
    config = VerifyConfig(device="cuda", n_timing=10)
    with VerifierPool(config, workers=1) as pool:
        for d in pool.devices:  # a 1000 MB judge cache: no 1 GiB case fits, every one is recomputed
            pool._gpu_total_mb[d] = 6000
        good = pool.verify(BIG_PROBLEM, C.HONEST)
        bad = pool.verify(BIG_PROBLEM, C.WRONG)
        stale = pool.verify(BIG_PROBLEM, C.INPUT_INSENSITIVE)
        stats = pool.stats()
    assert good.status is Status.CORRECT, good.reason
    assert bad.status is Status.INCORRECT and "elements exceed" in bad.reason, bad.reason
    assert stale.status is Status.CHEAT_DETECTED, (stale.status, stale.reason)
    assert stats["reference_ram_bytes"] == 0 and stats["reference_spilled_bytes"] == 0
    assert stats["max_frame_bytes"] < 8 << 20  # descriptors and digests, never outputs


@pytest.mark.gpu
@needs_gpu
def test_gpu_judge_and_the_parent_path_agree():
    config = VerifyConfig(device="cuda", n_timing=10)
    verdicts = {}
    for judged in (True, False):
        with VerifierPool(config, workers=1, gpu_judge=judged) as pool:
            verdicts[judged] = [pool.verify(PROBLEM, c).status for c in (C.HONEST, C.WRONG, C.STALE_RESULT)]
    assert verdicts[True] == verdicts[False] == [Status.CORRECT, Status.INCORRECT, Status.CHEAT_DETECTED]
