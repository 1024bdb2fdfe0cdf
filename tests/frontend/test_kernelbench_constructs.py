"""KernelBench constructs the importer lowers to Triton (session 3): each of our problems for them compiles
under mixed and is accepted by the verifier (5 seeds, normal and heavy-tailed inputs, anti-cheat rules).

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/frontend/test_kernelbench_constructs.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drtriton.frontend import CompileConfig, compile_problem, import_program

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not __import__("torch").cuda.is_available(),
                                reason="needs TRITON_INTERPRET=1 on CPU")

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"
CONSTRUCTS = {  # problem -> the construct it exercises
    "conv_batchnorm_train_tanh": "BatchNorm2d with batch statistics, MaxPool2d module",
    "gemm_batchnorm_train_gelu": "BatchNorm1d with batch statistics on [N, C]",
    "conv3d_maxpool_avgpool": "MaxPool3d/AvgPool3d modules, AvgPool1d ceil_mode, reshape",
    "gemm_groupnorm_hardtanh": "GroupNorm on [N, C]",
    "conv_globalmean_min_residual": "mean over (H, W) keepdim, min with torch.tensor, detach, view with unit axes",
    "matmul_weight_t_reshape": "parameter .T, reshape splitting into three and merging non-trailing axes",
    "layer_norm_three_axes": "LayerNorm over a tuple normalized_shape",
    "einsum_frobenius_normalize": "einsum as matmul, Frobenius norm, vector_norm over trailing axes",
    "sequential_mlp_batchnorm": "submodules named by index (self.net[0]) in kernel arguments",
}


def test_verifier_accepts_each_construct_problem():
    verify = pytest.importorskip("drtriton.verify")
    pairs = []
    for name in CONSTRUCTS:
        src = (PROBLEMS / f"{name}.py").read_text()
        result = compile_problem(src, CompileConfig(policy="mixed"))
        assert not result.report["host_calls"], name  # lowered, not kept in PyTorch
        pairs.append((src, result.source))
    with verify.VerifierPool(verify.VerifyConfig(device="cpu"), workers=2) as pool:
        verdicts = pool.verify_many(pairs)
    bad = [(name, v.status, v.reason) for name, v in zip(CONSTRUCTS, verdicts) if not v.ok]
    assert not bad, bad


def test_pools_and_batch_norm_are_triton_kernels_under_mixed():
    src = (PROBLEMS / "conv_batchnorm_train_tanh.py").read_text()
    report = compile_problem(src, CompileConfig(policy="mixed")).report
    assert report["library_calls"] == [["conv2d"]]
    fused = [op for k in report["kernels"] for op in k["ops"]]
    assert "max_pool2d" in fused and "rsqrt" in fused and "batch_norm" not in fused


def test_dilated_2d_pool_is_named_unsupported():  # padding alone and 1-D dilation are rewritten
    src = '''
import torch, torch.nn as nn
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, dilation=2)
    def forward(self, x):
        return self.pool(x)
def get_inputs():
    return [torch.randn(2, 3, 9, 9)]
def get_init_inputs():
    return []
'''
    prog = import_program(src)
    assert prog.unsupported and "max_pool2d with dilation" in prog.unsupported[0].why


def test_ceil_mode_that_adds_a_partial_window_is_imported():  # padded to full windows since 324cd84
    src = '''
import torch, torch.nn as nn
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool1d(3, ceil_mode=True)
    def forward(self, x):
        return self.pool(x)
def get_inputs():
    return [torch.randn(2, 3, 10)]
def get_init_inputs():
    return []
'''
    prog = import_program(src)
    assert prog.ok, prog.unsupported


def _coverage_script():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "kernelbench_coverage.py"
    spec = importlib.util.spec_from_file_location("kernelbench_coverage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coverage_check_shrinks_module_constants_and_their_uses():
    script = _coverage_script()
    src = "batch_size = 128\nheight, width = 64, 8\nchannels = 3\nfeatures = 4096\nbias_shape = (features, 1)\n"
    ns: dict = {}
    exec(script.shrink_source(src, spatial=8), ns)  # noqa: S102 - our own text
    assert (ns["batch_size"], ns["height"], ns["width"], ns["channels"]) == (2, 8, 8, 3)
    assert ns["features"] == 16 and ns["bias_shape"] == (16, 1)


def test_coverage_check_runs_modelnew_against_model(tmp_path):
    script = _coverage_script()
    problem = tmp_path / "1_Pool_BatchNorm.py"
    problem.write_text((PROBLEMS / "conv_batchnorm_train_tanh.py").read_text())
    res = script.check_one(str(problem), "mixed")
    assert res["ok"] is True and res["max_err"] < 1e-4 and res["ref_spread"] > 0.1, res
