"""Verifier behaviour on CPU (TRITON_INTERPRET=1): statuses, static and dynamic rules, faults, cache.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/verify -q
Each group of candidates is verified in one concurrent batch (module fixtures) to keep the suite quick;
the fault batch (ctypes, os._exit, fork, infinite loop, strict/hybrid pools) is marked slow: -m slow.
"""

from __future__ import annotations

import ast

import candidates as C
import pytest
import importlib.util as _ilu
from pathlib import Path as _Path

# The sibling conftest by path: several test folders have a conftest.py, so `import conftest` is ambiguous.
_spec = _ilu.spec_from_file_location("verify_conftest", _Path(__file__).with_name("conftest.py"))
_conftest = _ilu.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)
PROBLEM = _conftest.PROBLEM

from drtriton.verify import RULES, Status, Verdict, VerifierPool, VerifyConfig
from drtriton.verify.rules import check_static
from drtriton.verify.sandbox import policy_violations

FAST = dict(seeds=(0, 1, 2), device="cpu", timeout_s=120)

MAIN = {
    "honest": C.HONEST,
    "wrong": C.WRONG,
    "no_op": C.NO_OP_KERNEL,
    "wrong_shape": C.WRONG_SHAPE,
    "compile_error": C.COMPILE_ERROR,
    "module_raises": C.MODULE_RAISES,
    "no_modelnew": C.NO_MODELNEW,
    "not_python": C.NOT_PYTHON,
    "not_launched": C.NOT_LAUNCHED,
    "aliases_input": C.ALIASES_INPUT,
    "reused_buffer": C.REUSED_BUFFER,
    "stale_result": C.STALE_RESULT,
    "input_insensitive": C.INPUT_INSENSITIVE,
    "mixed_torch_compute": C.STRICT_TORCH_COMPUTE,
    "segfault_interpreted": C.SEGFAULT_INTERPRETED,
    "huge_alloc": C.HUGE_ALLOC,
    "huge_print": C.HUGE_PRINT,
    **{f"static:{rule}": src for rule, src in C.STATIC.items()},
}


def _batch(config: VerifyConfig, named: dict[str, str], workers: int = 2, **kw) -> dict[str, Verdict]:
    with VerifierPool(config, workers=workers, **kw) as pool:
        verdicts = pool.verify_many([(PROBLEM, src) for src in named.values()])
    return dict(zip(named, verdicts))


@pytest.fixture(scope="module")
def main_verdicts(tmp_path_factory) -> dict[str, Verdict]:
    config = VerifyConfig(output_cap_mb=4, **FAST)
    cache = tmp_path_factory.mktemp("cache") / "verdicts.sqlite"
    verdicts = _batch(config, MAIN, cache_path=cache)
    with VerifierPool(config, workers=1, cache_path=cache, prespawn=False) as pool:
        verdicts["honest_again"] = pool.verify(PROBLEM, C.HONEST)
    return verdicts


@pytest.fixture(scope="module")
def fault_verdicts() -> dict[str, Verdict]:
    guarded = VerifyConfig(disabled_rules=C.FAULT_RULES_OFF, **FAST)
    out = _batch(
        guarded,
        {"ctypes_guarded": C.SEGFAULT_CTYPES, "os_exit": C.OS_EXIT, "fork": C.FORK, "after_faults": C.HONEST},
    )
    unguarded = VerifyConfig(disabled_rules=C.FAULT_RULES_OFF + ("sandbox.runtime_event",), **FAST)
    out.update(_batch(unguarded, {"ctypes_segfault": C.SEGFAULT_CTYPES}, workers=1, prespawn=False))
    strict = VerifyConfig(policy="strict", **FAST)
    out.update(
        {
            f"strict_{k}": v
            for k, v in _batch(strict, {"torch_compute": C.STRICT_TORCH_COMPUTE, "honest": C.HONEST}).items()
        }
    )
    hybrid = VerifyConfig(policy="hybrid", **FAST)
    out.update(_batch(hybrid, {"hybrid_torch_compute": C.STRICT_TORCH_COMPUTE}, workers=1, prespawn=False))
    looping = VerifyConfig(seeds=(0,), device="cpu", timeout_s=40, first_call_timeout_s=40)
    out.update(_batch(looping, {"infinite_loop": C.INFINITE_LOOP, "after_timeout": C.HONEST}, workers=1))
    return out


# ---- statuses ----
def test_accepts_honest_kernel_with_exact_result(main_verdicts):
    v = main_verdicts["honest"]
    assert v.status is Status.CORRECT, v.reason
    assert v.max_abs_err == 0.0 and v.triton_launches == 1 and v.policy == "mixed"
    assert v.timing is None and v.speedup_vs_eager is None  # CPU: not measured, never 0.0


def test_verdict_says_where_the_parent_waited(main_verdicts):
    phases = main_verdicts["honest"].phase_s
    for wait in ("reference_s", "take_worker_s", "ready_wait_s", "judge_s"):  # beside the worker's phases
        assert phases[wait] >= 0.0, wait
    assert phases["correctness_s"] > 0.0
    # CPU: no GPU lock, timing slot, memory gate or torch.compile baseline, so none is reported (not 0.0)
    gpu_only = {
        "shared_wait_s", "gpu_slot_wait_s", "quiet_wait_s", "quiet_hold_s", "gate_wait_s", "baseline_wait_s",
        "worker_context_s", "worker_section_s",
    }
    assert not gpu_only & set(phases)


def test_rejects_wrong_value_as_incorrect_with_error(main_verdicts):
    v = main_verdicts["wrong"]
    assert v.status is Status.INCORRECT and v.max_abs_err is not None and v.max_abs_err > 1e-3


def test_no_op_kernel_reads_poisoned_memory_and_fails(main_verdicts):
    v = main_verdicts["no_op"]
    assert v.status is Status.INCORRECT and "NaN" in v.reason


def test_rejects_wrong_shape(main_verdicts):
    assert main_verdicts["wrong_shape"].status is Status.INCORRECT
    assert "shape" in main_verdicts["wrong_shape"].reason


def test_format_errors_for_unparsable_or_missing_modelnew(main_verdicts):
    assert main_verdicts["not_python"].status is Status.FORMAT_ERROR
    assert main_verdicts["no_modelnew"].status is Status.FORMAT_ERROR


def test_compile_error_when_module_fails_to_import(main_verdicts):
    assert main_verdicts["compile_error"].status in (Status.FORMAT_ERROR, Status.COMPILE_ERROR)
    v = main_verdicts["module_raises"]
    assert v.status is Status.COMPILE_ERROR and "module import fails on purpose" in v.reason


def test_cache_returns_stored_verdict(main_verdicts):
    v = main_verdicts["honest_again"]
    assert v.cached and v.status is Status.CORRECT


def test_verdict_json_round_trip(main_verdicts):
    v = main_verdicts["wrong"]
    assert Verdict.from_json(v.to_json()) == v


# ---- static rules ----
@pytest.mark.parametrize("rule", sorted(C.STATIC))
def test_static_rule_rejects_its_cheat(main_verdicts, rule):
    v = main_verdicts[f"static:{rule}"]
    assert v.status is Status.CHEAT_DETECTED and v.rule == rule, (v.rule, v.reason)


def test_every_rule_has_rationale_and_dotted_id():
    for rule in RULES.values():
        assert "." in rule.id and len(rule.rationale) > 20


def test_static_checks_pass_honest_candidate():
    assert check_static(ast.parse(C.HONEST)) == []


# ---- dynamic rules ----
@pytest.mark.parametrize(
    "name,rule",
    [
        ("not_launched", "launch.kernel_not_launched"),
        ("aliases_input", "output.aliases_input"),
        ("reused_buffer", "output.reused_buffer"),
        ("stale_result", "memo.stale_result"),
        ("input_insensitive", "memo.input_insensitive"),
    ],
)
def test_dynamic_rule_rejects_its_cheat(main_verdicts, name, rule):
    v = main_verdicts[name]
    assert v.status is Status.CHEAT_DETECTED and v.rule == rule, (v.status, v.reason)


def test_mixed_policy_rejects_torch_compute(main_verdicts):
    v = main_verdicts["mixed_torch_compute"]
    assert v.status is Status.CHEAT_DETECTED and v.rule == "policy.torch_compute" and "sigmoid" in v.reason


def test_policy_tables_allow_what_each_policy_says():
    ops = {"empty_like": 1, "addmm": 1, "sigmoid": 1}
    assert policy_violations(ops, "strict") == ["addmm", "sigmoid"]
    assert policy_violations(ops, "mixed") == ["sigmoid"]
    assert policy_violations(ops, "hybrid") == []


@pytest.mark.slow
def test_strict_policy_rejects_torch_compute_but_allows_allocation(fault_verdicts):
    v = fault_verdicts["strict_torch_compute"]
    assert v.status is Status.CHEAT_DETECTED and v.rule == "policy.torch_compute" and "sigmoid" in v.reason
    assert fault_verdicts["strict_honest"].status is Status.CORRECT


@pytest.mark.slow
def test_hybrid_policy_allows_leftover_torch_ops(fault_verdicts):
    v = fault_verdicts["hybrid_torch_compute"]
    assert v.status is Status.CORRECT and "sigmoid" in v.torch_ops


@pytest.mark.slow
def test_sandbox_blocks_ctypes_from_candidate_code(fault_verdicts):
    v = fault_verdicts["ctypes_guarded"]
    assert v.status is Status.CHEAT_DETECTED and v.rule == "sandbox.runtime_event" and "ctypes" in v.reason


@pytest.mark.slow
def test_fork_is_trapped_and_reported(fault_verdicts):
    v = fault_verdicts["fork"]
    assert v.status is Status.CHEAT_DETECTED and "fork" in v.reason


# ---- faults: each gets a verdict with a reason, and the pool serves the rest ----
def test_segfault_in_interpreted_kernel_is_runtime_error(main_verdicts):
    v = main_verdicts["segfault_interpreted"]
    assert v.status is Status.RUNTIME_ERROR and "SIGSEGV" in v.reason


@pytest.mark.slow
def test_segfault_via_ctypes_is_runtime_error(fault_verdicts):
    v = fault_verdicts["ctypes_segfault"]
    assert v.status is Status.RUNTIME_ERROR and "SIGSEGV" in v.reason


@pytest.mark.slow
def test_os_exit_is_runtime_error(fault_verdicts):
    v = fault_verdicts["os_exit"]
    assert v.status is Status.RUNTIME_ERROR and "exited with code 3" in v.reason


def test_huge_allocation_is_runtime_error(main_verdicts):
    v = main_verdicts["huge_alloc"]
    assert v.status is Status.RUNTIME_ERROR and "memory" in v.reason


def test_huge_print_hits_output_cap(main_verdicts):
    v = main_verdicts["huge_print"]
    assert v.status is Status.RUNTIME_ERROR and "capture cap" in v.reason


@pytest.mark.slow
def test_infinite_loop_times_out_and_pool_recovers(fault_verdicts):
    assert fault_verdicts["infinite_loop"].status is Status.TIMEOUT
    assert fault_verdicts["after_timeout"].status is Status.CORRECT


@pytest.mark.slow
def test_pool_keeps_serving_after_crashes(fault_verdicts):
    assert fault_verdicts["after_faults"].status is Status.CORRECT
