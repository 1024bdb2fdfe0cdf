"""Statistics of rows longer than one tile (Welford-merged chunks, one read of the row): LayerNorm, GroupNorm,
InstanceNorm, var and std against torch, on ordinary, heavy-tailed, offset and constant rows."""

from __future__ import annotations

import pytest
import torch
from harness import load

from drtriton.frontend import CompileConfig, compile_problem

PROBLEM = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        {init}

    def forward(self, x):
        return {body}


def get_inputs():
    return [torch.randn({shape})]


def get_init_inputs():
    return []
'''

# Rows of 5,000 to 12,000 elements: more than one 4,096-element tile, the last one partial.
CASES = {
    "layer_norm": dict(init="self.norm = nn.LayerNorm(5000)", body="self.norm(x)", shape="3, 5000"),
    "group_norm": dict(init="self.norm = nn.GroupNorm(2, 6)", body="self.norm(x)", shape="2, 6, 50, 60"),
    "instance_norm": dict(init="self.norm = nn.InstanceNorm2d(3)", body="self.norm(x)", shape="2, 3, 70, 80"),
    "var": dict(init="pass", body="torch.var(x, dim=1)", shape="4, 9000"),
    "std": dict(init="pass", body="torch.std(x, dim=-1, keepdim=True) + 1.0", shape="2, 3, 6000"),
}


def _models(case: str):
    src = PROBLEM.format(**CASES[case])
    result = compile_problem(src, CompileConfig())
    assert "merged (Chan et al.)" in result.source, "the statistics should take the one-pass chunked form"
    prob, sol = load(src, f"p_{case}"), load(result.source, f"s_{case}")
    torch.manual_seed(0)
    model = prob.Model()
    torch.manual_seed(0)
    return model, sol.ModelNew()


def _inputs(kind: str, shape: tuple) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    if kind == "normal":
        return torch.randn(shape, generator=g)
    if kind == "heavy_tailed":  # Student-t with 1.5 degrees of freedom: rare huge values
        return torch.distributions.StudentT(1.5).sample(shape) * 0.1
    if kind == "offset":  # a large common offset: cancellation in a naive sum of squares
        return torch.randn(shape, generator=g) * 0.01 + 1000.0
    return torch.full(shape, 0.3)  # constant rows: variance exactly 0


@pytest.mark.parametrize("kind", ["normal", "heavy_tailed", "offset", "constant"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_long_row_statistics_match_torch(case: str, kind: str) -> None:
    model, new = _models(case)
    shape = tuple(int(v) for v in CASES[case]["shape"].split(","))
    x = _inputs(kind, shape)
    with torch.no_grad():
        ref, out = model(x), new(x)
        exact = model.double()(x.double())
    if kind == "constant":
        # Deviations from the row's first element are exactly 0: variance 0, normalized values 0 (the
        # default affine bias), std + 1.0 exactly 1. (torch's CPU GroupNorm/InstanceNorm give ~2e-6 here.)
        assert torch.equal(out, torch.ones_like(out) if case == "std" else torch.zeros_like(out))
    if kind == "offset":
        # 1000 + 0.01 * randn: fp32 inputs carry ~6e-5 of quantization per 0.01 of spread, so torch's fp32
        # result is itself ~5e-3 from the fp64 one; ours must be no further from fp64 than torch's.
        ours_err, torch_err = (out.double() - exact).abs().max(), (ref.double() - exact).abs().max()
        assert ours_err <= max(1.5 * torch_err, 1e-4), (ours_err, torch_err)
        return
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


# Few rows of 270,000-700,000 elements: the statistics split over a second grid axis (a _stats kernel writes
# each split's mean and squared deviations, the writing kernel merges them), the last split partial and, for
# the LayerNorm, its last chunk wholly past the row.
SPLIT_CASES = {
    "group_norm_split": dict(init="self.norm = nn.GroupNorm(2, 4)", body="self.norm(x) * 2.0", shape="2, 4, 300, 500"),
    "layer_norm_split": dict(init="self.norm = nn.LayerNorm(700000)", body="self.norm(x)", shape="2, 700000"),
    "conv_group_norm_split": dict(init="self.conv = nn.Conv2d(3, 8, 3)\n        self.norm = nn.GroupNorm(2, 8)",
                                  body="self.norm(torch.relu(self.conv(x)))", shape="2, 3, 262, 262"),
}


@pytest.mark.parametrize("case,kind", [("group_norm_split", "offset"), ("layer_norm_split", "normal"),
                                       ("conv_group_norm_split", "normal")])
def test_split_statistics_match_torch(case: str, kind: str) -> None:
    CASES[case] = SPLIT_CASES[case]
    try:
        src = PROBLEM.format(**CASES[case])
        assert "_stats_launch(" in compile_problem(src, CompileConfig()).source
        test_long_row_statistics_match_torch(case, kind)
    finally:
        del CASES[case]
