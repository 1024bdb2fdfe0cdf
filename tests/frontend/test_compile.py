"""Compiled ModelNew vs Model under the Triton interpreter: our problems, synthesized programs, errors.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/frontend   # default tier: every problem in tests/problems
The 2,000 synthesized programs are tests/frontend/test_synth_programs.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import run_pair

from drtriton.frontend import CompileConfig, compile_problem
from drtriton.util.errors import UsageError

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not __import__("torch").cuda.is_available(),
                                reason="needs TRITON_INTERPRET=1 on CPU")

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
ALL = sorted(p for p in PROBLEMS.glob("*.py") if not p.name.startswith(("test_", "_")))


def _check(path: Path, policy: str = "mixed", knobs: dict | None = None) -> None:
    src = path.read_text()
    result = compile_problem(src, CompileConfig(policy=policy, knobs=knobs or {}))
    assert "@triton.jit" in result.source
    run_pair(src, result.source)


# Every problem in the default tier: all 36 take seconds since reductions tile many rows per program.
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_compiled_problem_matches_reference(path):
    _check(path)


@pytest.mark.parametrize("knobs", [{"block": 16, "reduce_block": 16, "block_m": 16, "block_k": 16},
                                   {"fuse_epilogue": False, "fuse_prologue": False}])
def test_knobs_change_tiles_not_results(knobs):
    _check(PROBLEMS / "gemm_sigmoid_sum.py", knobs=knobs)


def test_epilogue_fuses_into_matmul_kernel():
    result = compile_problem((PROBLEMS / "linear_relu_bias_add.py").read_text())
    kinds = [(k["kind"], k["ops"]) for k in result.report["kernels"]]
    assert kinds[0][0] == "matmul" and len(kinds[0][1]) > 1, kinds


def test_split_knob_adds_a_kernel_boundary():
    src = (PROBLEMS / "linear_relu_bias_add.py").read_text()
    fused = compile_problem(src).report["kernels"]
    root = fused[0]["anchor"]
    split = compile_problem(src, CompileConfig(knobs={"split": [root]})).report["kernels"]
    assert len(split) == len(fused) + 1


def test_strict_policy_names_the_convolution():
    with pytest.raises(UsageError, match=r"conv2d.*--policy mixed"):
        compile_problem((PROBLEMS / "conv_relu_add.py").read_text(), CompileConfig(policy="strict"))


def test_mixed_policy_header_says_where_each_op_ran():
    src = compile_problem((PROBLEMS / "conv_relu_add.py").read_text()).source
    assert "# PyTorch library calls: conv2d" in src and "policy: mixed" in src


@pytest.mark.parametrize("knobs,match", [({"block_m": 33}, "power of two"), ({"bogus": 1}, "unknown knob"),
                                         ({"fuse_epilogue": 1}, "true or false")])
def test_bad_knobs_are_usage_errors(knobs, match):
    with pytest.raises(UsageError, match=match):
        CompileConfig(knobs=knobs)


def test_cli_exits_2_without_traceback_on_bad_input(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    bad = tmp_path / "bad.py"
    bad.write_text("x = (")
    proc = subprocess.run([sys.executable, "-m", "drtriton", "compile", str(bad)], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "does not parse" in proc.stderr


def test_cli_dump_ir_after_prints_the_plan():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-m", "drtriton", "compile", str(PROBLEMS / "softmax_rows.py"),
                           "--dump-ir-after", "group"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "kernel 0: normalization" in proc.stdout


def test_verifier_accepts_compiled_solution():
    verify_mod = pytest.importorskip("drtriton.verify")
    src = (PROBLEMS / "conv_bn_silu.py").read_text()
    verdict = verify_mod.verify(src, compile_problem(src).source, verify_mod.VerifyConfig(device="cpu"))
    assert verdict.ok, verdict.reason
