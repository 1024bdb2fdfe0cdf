"""Memory and time at KernelBench sizes: inputs drawn in each worker from (seed, distribution) and checked
by fingerprint, outputs streamed one case per frame, a first-call allowance apart from timeout_s."""

from __future__ import annotations

import candidates as C
import pytest
import torch

from drtriton.verify import Status, VerifierPool, VerifyConfig
from drtriton.verify import compare as compare_mod
from drtriton.verify.pool import MEMORY_FLOOR_MB, physical_memory_mb, worker_memory_mb

N = 1 << 23  # elements of the large problem's input (32 MB of float32)

LARGE_PROBLEM = f"""
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn({N})]


def get_init_inputs():
    return []
"""
# The honest ReLU with large blocks: 8 programs, so the interpreter is quick at 8M elements.
LARGE_HONEST = C.HONEST.replace("cdiv(n, 256)", "cdiv(n, 1 << 20)").replace("BLOCK=256", "BLOCK=1 << 20")


def _relu_problem(get_inputs_body: str, forward_prelude: str = "", imports: str = "") -> str:
    return f"""
import torch
import torch.nn as nn
{imports}


class Model(nn.Module):
    def forward(self, x):
{forward_prelude}        return torch.relu(x)


def get_inputs():
{get_inputs_body}


def get_init_inputs():
    return []
"""


_RELU = _relu_problem("    return [torch.randn(19, 71)]")


# ---- memory ----
def test_large_inputs_verify_under_a_cap_that_shipping_every_case_would_exceed():
    # 4 cases of a 32 MB input and a 32 MB output, under RLIMIT_AS on CPU (torch + triton alone take
    # ~0.8 GB of address space). Measured on this machine: the protocol that shipped every case (the
    # reference reply with all inputs and outputs, the candidate request with all inputs, all 8 outputs
    # returned at once) died of MemoryError at 1700 MB and passed at 2000; this one passes at 1500.
    cap_mb = 1600
    config = VerifyConfig(device="cpu", seeds=(0, 1, 2, 3), distributions=("normal",), memory_mb=cap_mb)
    with VerifierPool(config, workers=1, prespawn=False) as pool:
        verdict = pool.verify(LARGE_PROBLEM, LARGE_HONEST)
        stats = pool.stats()
    assert verdict.status is Status.CORRECT, verdict.reason
    one_case = 4 * N
    old_reference_reply = 4 * (one_case + one_case)
    assert stats["max_frame_bytes"] < one_case + (1 << 20)  # one case's outputs per frame
    assert old_reference_reply > 4 * stats["max_frame_bytes"]
    assert stats["reference_ram_bytes"] + stats["reference_spilled_bytes"] == 4 * one_case  # outputs only


def test_reference_outputs_past_the_parent_budget_are_spilled_and_still_judged():
    config = VerifyConfig(device="cpu", seeds=(0, 1), timeout_s=120)
    with VerifierPool(config, workers=1, prespawn=False, ref_memory_mb=0) as pool:
        good, bad = pool.verify_many([(_RELU, C.HONEST), (_RELU, C.WRONG)])
        stats = pool.stats()
    assert good.status is Status.CORRECT, good.reason
    assert bad.status is Status.INCORRECT and bad.max_abs_err > 1e-3
    assert stats["reference_ram_bytes"] == 0 and stats["reference_spilled_bytes"] == 4 * 19 * 71 * 4


def test_worker_memory_cap_scales_with_the_host_on_gpus_and_stays_configurable():
    assert worker_memory_mb(0, "cpu", 4) == MEMORY_FLOOR_MB
    assert worker_memory_mb(3000, "cuda:0", 4) == 3000
    one = worker_memory_mb(0, "cuda:0", 1)
    assert one >= MEMORY_FLOOR_MB and one == max(MEMORY_FLOOR_MB, int(0.8 * physical_memory_mb()))
    assert worker_memory_mb(0, "cuda:0", 10_000) == MEMORY_FLOOR_MB  # the floor


def test_memory_mb_rejects_caps_below_what_torch_needs():
    from drtriton.util.errors import UsageError

    with pytest.raises(UsageError, match="memory_mb must be 0"):
        VerifyConfig(memory_mb=100)


def test_chunked_comparison_counts_every_element(monkeypatch):
    monkeypatch.setattr(compare_mod, "CHUNK", 7)
    r = torch.linspace(-3, 3, 100)
    c = r.clone()
    c[[5, 50, 99]] += 1.0
    cmp = compare_mod.compare([r], [c], 1e-4, 1e-4)
    assert not cmp.ok and "3 of 100 elements" in cmp.reason and cmp.max_abs_err == pytest.approx(1.0)
    c = r.clone()
    c[60] = float("nan")
    assert "1 NaN/Inf" in compare_mod.compare([r], [c], 1e-4, 1e-4).reason
    assert compare_mod.compare([r], [r.clone()], 0.0, 0.0).ok


# ---- reproducible inputs ----
def test_get_inputs_from_os_urandom_is_a_problem_verdict():
    problem = _relu_problem(
        "    g = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), 'little'))\n"
        "    return [torch.randn(19, 71, generator=g)]",
        imports="import os",
    )
    config = VerifyConfig(device="cpu", seeds=(0,), timeout_s=120)
    with VerifierPool(config, workers=1, prespawn=False) as pool:
        v = pool.verify(problem, C.HONEST)
    assert v.status is Status.FORMAT_ERROR and "not reproducible" in v.reason, v.reason


def test_inputs_that_differ_between_processes_fail_the_fingerprint_check():
    # Reproducible within a process (the reference's own double draw agrees) but not across processes.
    problem = _relu_problem("    return [torch.randn(19, 71) + (os.getpid() % 97)]", imports="import os")
    config = VerifyConfig(device="cpu", seeds=(0,), timeout_s=120)
    with VerifierPool(config, workers=1, prespawn=False) as pool:
        v = pool.verify(problem, C.HONEST)
    assert v.status is Status.RUNTIME_ERROR and "differ from the reference's" in v.reason, v.reason
    assert "fingerprint" in v.reason


# ---- first-call allowance ----
SLOW_FIRST_CALL = _relu_problem(
    "    return [torch.randn(19, 71)]",
    forward_prelude="        if not getattr(Model, 'warm', False):\n"
    "            time.sleep(6)  # a first call that autotunes for a while\n"
    "            Model.warm = True\n",
    imports="import time",
)


def test_slow_first_call_gets_its_own_allowance_apart_from_timeout():
    config = VerifyConfig(device="cpu", seeds=(0,), distributions=("normal",), timeout_s=5,
                          first_call_timeout_s=120)
    with VerifierPool(config, workers=1, prespawn=False) as pool:
        v = pool.verify(SLOW_FIRST_CALL, C.HONEST)
    assert v.status is Status.CORRECT, v.reason


def test_first_call_past_its_allowance_is_named_as_such():
    config = VerifyConfig(device="cpu", seeds=(0,), distributions=("normal",), timeout_s=120,
                          first_call_timeout_s=2)
    with VerifierPool(config, workers=1, prespawn=False) as pool:
        v = pool.verify(SLOW_FIRST_CALL, C.HONEST)
    assert v.status is Status.FORMAT_ERROR and "first_call_timeout_s=2" in v.reason, v.reason
