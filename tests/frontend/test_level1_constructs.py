"""KernelBench level-1 constructs the importer rewrites into registry operators (session 5): triu/tril as an
index mask, max pooling with padding and dilation, bool mask inputs. Each is compiled under mixed and
compared with torch under the Triton interpreter at small irregular shapes.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest -q tests/frontend/test_level1_constructs.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import run_pair

from drtriton.frontend import CompileConfig, compile_problem

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not __import__("torch").cuda.is_available(),
                                reason="needs TRITON_INTERPRET=1 on CPU")

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


def _program(forward: str, inputs: str, init: str = "", init_inputs: str = "[]", args: str = "x") -> str:
    return f"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        {init or "pass"}

    def forward(self, {args}):
        return {forward}


def get_inputs():
    return {inputs}


def get_init_inputs():
    return {init_inputs}
"""


def _compiled_matches(src: str) -> dict:
    result = compile_problem(src, CompileConfig(policy="mixed"))
    assert "@triton.jit" in result.source
    run_pair(src, result.source)
    return result.report


# ---- triu / tril ----
def test_triu_of_a_matmul_is_one_fused_matmul_kernel():
    report = _compiled_matches((PROBLEMS / "matmul_triu.py").read_text())
    assert [k["kind"] for k in report["kernels"]] == ["matmul"], report["kernels"]
    assert "mul" in report["kernels"][0]["ops"]


@pytest.mark.parametrize("forward", ["torch.tril(x, diagonal=-2)", "torch.triu(x, 3)",
                                     "x.triu(-1) + x.tril(1)", "torch.tril(x * 2.0, diagonal=9)"])
def test_triu_tril_with_diagonals_on_batched_input(forward):
    _compiled_matches(_program(forward, "[torch.randn(3, 11, 7)]"))
