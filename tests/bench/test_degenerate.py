"""Degenerate-reference detection: the pure judgement, and the child-process checker on our fake problems."""

from pathlib import Path

import pytest
import torch

from drtriton.bench.degenerate import DegenerateConfig, ReferenceChecker, judge
from drtriton.bench.problems import discover
from drtriton.util.errors import UsageError

FAKE = Path(__file__).parent / "fake_kernelbench"


def test_constant_output_is_near_constant():
    outs = [[torch.full((4, 3), 0.25)], [torch.full((4, 3), 0.25 + 1e-7)]]
    check = judge(outs, inputs_differ=True, atol=1e-4, rtol=1e-4)
    assert check.degenerate is True and check.kind == "near_constant"


def test_output_that_varies_is_not_degenerate():
    outs = [[torch.arange(6.0)], [torch.arange(6.0) * 2]]
    assert judge(outs, inputs_differ=True, atol=1e-4, rtol=1e-4).degenerate is False


def test_same_varying_output_for_different_inputs_is_input_insensitive():
    out = torch.linspace(-1, 1, 10)
    check = judge([[out], [out.clone()], [out.clone()]], inputs_differ=True, atol=1e-4, rtol=1e-4)
    assert check.degenerate is True and check.kind == "input_insensitive"


def test_identical_inputs_leave_sensitivity_untested_not_flagged():
    out = torch.linspace(-1, 1, 10)
    check = judge([[out], [out.clone()]], inputs_differ=False, atol=1e-4, rtol=1e-4)
    assert check.degenerate is False and "untested" in check.reason


def test_nan_in_reference_is_flagged():
    check = judge([[torch.tensor([1.0, float("nan")])], [torch.tensor([1.0, 2.0])]], True, 1e-4, 1e-4)
    assert check.degenerate is True and check.kind == "nonfinite"


def test_one_constant_output_of_a_tuple_is_not_enough():
    varying = [torch.randn(5)], [torch.randn(5)]
    outs = [[torch.zeros(3), varying[0][0]], [torch.zeros(3), varying[1][0]]]
    assert judge(outs, True, 1e-4, 1e-4).degenerate is False


def test_config_refuses_a_single_seed():
    with pytest.raises(UsageError, match="seeds"):
        DegenerateConfig(seeds=1)


def test_checker_flags_the_fake_degenerate_problems_and_survives_broken_ones():
    problems = {p.stem: p for p in discover(FAKE, 2)}
    with ReferenceChecker(DegenerateConfig(timeout_s=60)) as checker:
        zero = checker.check(problems["7_Linear_RowMax_Center_Gelu"].source())
        bias = checker.check(problems["9_Bias_Ignores_Input"].source())
        fine = checker.check(problems["3_Linear_Scale_LeakyReLU"].source())
        raises = checker.check("import torch\nModel = torch.nn.ReLU\ndef get_init_inputs():\n    return []\n"
                               "def get_inputs():\n    raise RuntimeError('boom')\n")
        dies = checker.check("import os\nos._exit(3)\n")
        after = checker.check(problems["5_Add_Sigmoid_Mul"].source())  # respawned after the crash
    assert (zero.degenerate, zero.kind) == (True, "near_constant")
    assert (bias.degenerate, bias.kind) == (True, "input_insensitive")
    assert fine.degenerate is False
    assert raises.degenerate is None and "RuntimeError at line 6: boom" in raises.reason
    assert dies.degenerate is None and "exit code 3" in dies.reason
    assert after.degenerate is False


def test_checker_times_out_a_hanging_reference():
    with ReferenceChecker(DegenerateConfig(timeout_s=1.0)) as checker:
        check = checker.check("import time\ntime.sleep(30)\n")
    assert check.degenerate is None and "timed out" in check.reason


def test_reference_runs_as_built_not_in_eval_mode():
    # KernelBench and the verifier call Model as constructed (training mode: BatchNorm uses batch
    # statistics); the check must judge that same function. In training mode this output is all zeros.
    src = ("import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n"
           "        return x * 0 if self.training else x\n"
           "def get_init_inputs():\n    return []\n"
           "def get_inputs():\n    return [torch.randn(4, 5)]\n")
    with ReferenceChecker(DegenerateConfig(timeout_s=60)) as checker:
        check = checker.check(src)
    assert (check.degenerate, check.kind) == (True, "near_constant")


def test_streaming_judge_agrees_on_a_large_input_insensitive_output():
    out = torch.linspace(-3, 3, 1 << 16)
    check = judge([[out], [out.clone()], [out.clone()]], inputs_differ=True, atol=1e-4, rtol=1e-4)
    assert check.degenerate is True and check.kind == "input_insensitive"


def test_outputs_compare_chunk_by_chunk(monkeypatch):
    import drtriton.bench.degenerate as degenerate

    monkeypatch.setattr(degenerate, "ALLCLOSE_CHUNK", 4)
    a = torch.arange(10.0)
    late = a.clone()
    late[9] += 1.0  # differs only in the last chunk
    assert degenerate._allclose_chunked(a, a.clone(), 1e-4, 1e-4) is True
    assert degenerate._allclose_chunked(a, late, 1e-4, 1e-4) is False
    assert judge([[a], [late]], True, 1e-4, 1e-4).degenerate is False
    assert judge([[a], [a.clone()]], True, 1e-4, 1e-4).kind == "input_insensitive"


def test_a_failed_check_frees_what_the_reference_allocated():
    # An out-of-memory reference left tens of GB held by the traceback's frames in the idle checker child,
    # and the verifier's workers on the same GPU then failed with out-of-memory (KernelBench L1 34, 47).
    import builtins

    from drtriton.bench.degenerate import _check_releasing

    source = ("import builtins, weakref, torch\n"
              "class Model(torch.nn.Module):\n"
              "    def forward(self, x):\n"
              "        big = torch.ones(1000) + x.sum()\n"
              "        builtins._drt_probe = weakref.ref(big)\n"
              "        raise MemoryError('pretend out of memory')\n"
              "def get_init_inputs():\n    return []\n"
              "def get_inputs():\n    return [torch.randn(4)]\n")
    try:
        with pytest.raises(MemoryError) as info:
            _check_releasing((source, DegenerateConfig(device="cpu")))
        assert info.value.__traceback__ is not None  # the error still says where it happened
        assert builtins._drt_probe() is None
    finally:
        if hasattr(builtins, "_drt_probe"):
            del builtins._drt_probe
