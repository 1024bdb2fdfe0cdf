"""Hybrid policy: FX calls with no registry operator stay PyTorch code inside ModelNew, the rest is lowered.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/frontend/test_hybrid.py

The importer turns each such call into a graph input computed on the host (region splitting): its
operands become kernel outputs, and the call runs between the kernels once they exist.
"""

from __future__ import annotations

import os

import pytest

from harness import run_pair

from drtriton.frontend import CompileConfig, compile_problem
from drtriton.util.errors import UsageError

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not __import__("torch").cuda.is_available(),
                                reason="needs TRITON_INTERPRET=1 on CPU")

# flip (no registry operator) in the middle of a fused chain; pools the importer cannot rewrite (2-D
# dilation, padding with count_include_pad=False) feeding and fed by Triton kernels; two outputs.
SPLIT = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 10)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, dilation=2)

    def forward(self, x, y):
        h = torch.relu(self.fc(x))
        f = torch.flip(h, dims=[1])
        g = torch.sigmoid(f) * h
        p = self.pool(y)
        return g.sum(dim=1, keepdim=True) + 1.0, F.avg_pool2d(torch.tanh(p), 2, padding=1, count_include_pad=False) * 2.0


def get_inputs():
    return [torch.randn(7, 12), torch.randn(2, 3, 9, 11)]


def get_init_inputs():
    return []
'''

# The output is the host call itself, and one host call reads another.
LAST = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.roll(torch.flip(torch.exp(x), dims=[0]), shifts=1, dims=1)


def get_inputs():
    return [torch.randn(5, 6)]


def get_init_inputs():
    return []
'''


def test_hybrid_keeps_unmapped_calls_in_pytorch_and_lowers_the_rest():
    result = compile_problem(SPLIT, CompileConfig(policy="hybrid"))
    assert result.report["host_calls"] == ["torch.flip(v6, dims=[1])", "self.pool(v1)", "F.avg_pool2d(v11, 2, padding=1, count_include_pad=False)"]
    kinds = [(k["kind"], k["ops"]) for k in result.report["kernels"]]
    assert kinds == [("matmul", ["linear", "relu"]), ("reduction", ["sigmoid", "mul", "sum", "add_scalar"]),
                     ("pointwise", ["tanh"]), ("pointwise", ["mul_scalar"])]
    body = result.source[result.source.index("def forward"):]
    # each host call sits after the kernel that writes its operand and before the kernel that reads it
    assert body.index("k0_linear_relu_launch(") < body.index("torch.flip(v6") < body.index("k1_sigmoid_mul_sum_add_scalar_launch(")
    assert body.index("k2_tanh_launch(") < body.index("F.avg_pool2d(v11") < body.index("k3_mul_scalar_launch(")
    run_pair(SPLIT, result.source)


def test_hybrid_host_call_can_be_the_output_and_read_another():
    result = compile_problem(LAST, CompileConfig(policy="hybrid"))
    assert result.report["host_calls"] == ["torch.flip(v3, dims=[0])", "torch.roll(v1, shifts=1, dims=1)"]
    assert [k["ops"] for k in result.report["kernels"]] == [["exp"]]
    run_pair(LAST, result.source)


@pytest.mark.parametrize("policy", ["strict", "mixed"])
def test_other_policies_refuse_what_hybrid_keeps(policy):
    with pytest.raises(UsageError, match=r"cannot import .*flip.*no mapping"):
        compile_problem(SPLIT, CompileConfig(policy=policy))


def test_verifier_accepts_hybrid_solution():
    verify = pytest.importorskip("drtriton.verify")
    solution = compile_problem(SPLIT, CompileConfig(policy="hybrid")).source
    verdict = verify.verify(SPLIT, solution, verify.VerifyConfig(device="cpu", policy="hybrid"))
    assert verdict.ok, verdict.reason


def test_cli_json_lists_the_host_calls(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    problem = tmp_path / "last.py"
    problem.write_text(LAST)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.run([sys.executable, "-m", "drtriton", "compile", str(problem), "--policy", "hybrid",
                           "-o", str(tmp_path / "sol.py"), "--json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["host_calls"] == ["torch.flip(v3, dims=[0])", "torch.roll(v1, shifts=1, dims=1)"]
