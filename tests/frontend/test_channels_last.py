"""Channels-last convolutions under mixed (the conv_channels_last knob): same values as the eager Model, the
bias folded into the reading kernel, channels-last outputs from pointwise epilogues, and the knob off giving
the plain library call."""

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
        self.conv = nn.{conv}
        self.scale = nn.Parameter(torch.randn({channels}, {ones}) * 0.5 + 1.0)
        {norm}

    def forward(self, x):
        y = self.conv(x)
        return {body}


def get_inputs():
    return [torch.randn({shape})]


def get_init_inputs():
    return []
'''

CASES = {
    # pointwise epilogue: walks and stores channels-last
    "conv2d_pointwise": dict(conv="Conv2d(3, 5, 3, padding=1)", channels=5, ones="1, 1", shape="2, 3, 7, 6",
                             body="torch.tanh(y * self.scale) + 0.5"),
    # reduction over channels reads the channels-last output with the bias added per channel
    "conv2d_softmax_channels": dict(conv="Conv2d(3, 6, 3)", channels=6, ones="1, 1", shape="2, 3, 9, 8",
                                    body="torch.softmax(y * self.scale, dim=1)"),
    # a mean over all spatial axes reads the channels-last output with a tile wide in channels
    "conv_transpose3d_mean": dict(conv="ConvTranspose3d(2, 4, 3, stride=2, padding=1)", channels=4,
                                  ones="1, 1, 1", shape="2, 2, 3, 4, 3",
                                  body="torch.relu(y).mean(dim=(2, 3, 4), keepdim=True) * self.scale"),
    # a mean over the depth alone would read channels-last rows across the grain: the plain call stays
    "conv_transpose3d_mean_depth": dict(conv="ConvTranspose3d(2, 4, 3, stride=2, padding=1)", channels=4,
                                        ones="1, 1, 1", shape="2, 2, 3, 4, 3",
                                        body="torch.relu(y).mean(dim=2, keepdim=True) * self.scale"),
    # GroupNorm walks each group channel-fastest, in two chunks (Welford-merged statistics), and stores
    # channels-last; a residual add and a logsumexp over the channels read its output (KernelBench L2 92)
    "conv2d_group_norm_residual_lse": dict(
        conv="Conv2d(3, 16, 3)", channels=16, ones="1, 1", shape="2, 3, 22, 22", norm="self.norm = nn.GroupNorm(4, 16)",
        body="torch.logsumexp(self.norm(torch.sigmoid(y) * self.scale) + y, dim=1)"),
    # KernelBench L2 60: conv_transpose3d, swish, GroupNorm (affine), hardswish
    "conv_transpose3d_swish_group_norm": dict(
        conv="ConvTranspose3d(3, 8, 3, stride=2, padding=1)", channels=8, ones="1, 1, 1", shape="2, 3, 3, 4, 4",
        norm="self.norm = nn.GroupNorm(2, 8)", body="torch.nn.functional.hardswish(self.norm(torch.sigmoid(y) * y))"),
    # a pool fused in front of a reduction would read the channels-last output's windows scattered: plain
    "conv2d_avgpool_sum": dict(conv="Conv2d(3, 8, 3)", channels=8, ones="1, 1", shape="2, 3, 10, 10",
                               norm="self.pool = nn.AvgPool2d(2)",
                               body="torch.sum(torch.sigmoid(self.pool(y)), dim=[1, 2, 3])"),
    "conv2d_instance_norm": dict(conv="Conv2d(3, 6, 3)", channels=6, ones="1, 1", shape="2, 3, 40, 40",
                                 norm="self.norm = nn.InstanceNorm2d(6)", body="self.norm(torch.relu(y)) * self.scale"),
    # a reduction over the channels alone reads each pixel's channels together: channels-last at any width
    "conv2d_max_24_channels": dict(conv="Conv2d(3, 24, 3)", channels=24, ones="1, 1", shape="2, 3, 7, 7",
                                   body="torch.amax(torch.relu(y) * self.scale, dim=1, keepdim=True) - 1.0"),
    # a grouped convolution: channels-last even in full fp32 (conv_tf32 off)
    "conv2d_grouped": dict(conv="Conv2d(4, 6, 3, padding=1, groups=2)", channels=6, ones="1, 1", shape="2, 4, 7, 6",
                           body="torch.tanh(y * self.scale) + 0.5"),
    "conv3d_min_channels": dict(conv="Conv3d(3, 4, 2, bias=True)", channels=4, ones="1, 1, 1", shape="2, 3, 5, 4, 4",
                                body="torch.min(y * self.scale, dim=1, keepdim=True)[0] + y"),
}


def _run(case: str, knobs: dict) -> tuple[str, torch.Tensor, torch.Tensor]:
    src = PROBLEM.format(**{"norm": "", **CASES[case]})
    result = compile_problem(src, CompileConfig(knobs=knobs))
    prob, sol = load(src, f"p_{case}"), load(result.source, f"s_{case}")
    torch.manual_seed(0)
    model = prob.Model()
    torch.manual_seed(0)
    new = sol.ModelNew()
    torch.manual_seed(1)
    x = prob.get_inputs()[0]
    with torch.no_grad():
        return result.source, model(x), new(x)


PLAIN = {"conv_transpose3d_mean_depth", "conv2d_avgpool_sum"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_channels_last_matches_eager(case: str) -> None:
    source, ref, out = _run(case, {})
    assert ("memory_format=torch.channels_last" in source) == (case not in PLAIN), source
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_bias_folded_and_pointwise_output_is_channels_last() -> None:
    source, ref, out = _run("conv2d_pointwise", {})
    assert "self.conv.weight, None," in source  # the library call runs without its bias ...
    assert "tl.load(p_self_conv_bias + " in source  # ... which the epilogue adds per channel
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_knob_off_keeps_the_plain_library_call() -> None:
    source, ref, out = _run("conv2d_softmax_channels", {"conv_channels_last": False})
    assert "channels_last" not in source and "self.conv(v0)" in source
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("case", ["conv2d_group_norm_residual_lse", "conv_transpose3d_swish_group_norm"])
def test_group_norm_walks_channels_last(case: str) -> None:
    source, ref, out = _run(case, {})
    assert "# position in the walk" in source  # each group read channel-fastest
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_group_norm_output_is_channels_last() -> None:
    source, ref, out = _run("conv_transpose3d_swish_group_norm", {})
    assert out.is_contiguous(memory_format=torch.channels_last_3d) and not out.is_contiguous()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_conv_tf32_off_runs_the_convolution_under_fp32_flags() -> None:
    source, ref, out = _run("conv2d_grouped", {"conv_tf32": False})
    assert "_conv_fp32(F.conv2d, " in source and "allow_tf32=False" in source
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    plain, _, _ = _run("conv2d_grouped", {})
    assert "_conv_fp32" not in plain  # the default keeps PyTorch's cuDNN flags


def test_walks_address_channels_last_memory_without_dividing_the_index() -> None:
    # A reduction over the channels reads each pixel's channels at offset pixel * C + channel.
    source, _, _ = _run("conv2d_max_24_channels", {})
    assert "phys = (offs_c * R)[None, :] + offs_r[:, None]" in source
    # GroupNorm: offsets, per-channel operands (the folded conv bias, the affine weight) by the walk's channel.
    source, ref, out = _run("conv2d_group_norm_residual_lse", {})
    assert "tl.load(p_self_conv_bias + chan" in source and "tl.load(p_self_norm_weight + chan" in source
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", [(2, 5, 7, 6), (2, 3, 4, 5, 3), (1, 40, 9, 70)])
def test_channels_last_helper_transposes_like_pytorch(shape: tuple) -> None:
    # The generated _channels_last (a Triton transpose) feeds every channels-last convolution.
    source, _, _ = _run("conv2d_pointwise", {})
    assert "F.conv2d(_channels_last(v0), " in source
    module = load(source, "s_helper")
    x = torch.randn(shape)
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    out = module._channels_last(x)
    assert out.is_contiguous(memory_format=fmt) and torch.equal(out, x)
    assert module._channels_last(out) is not None and torch.equal(module._channels_last(out), x)  # already CL


def test_full_fp32_keeps_ungrouped_convolutions_plain_and_grouped_ones_channels_last() -> None:
    # conv_tf32 off (full-fp32 convolutions): cuDNN's NHWC fp32 kernels lose to NCHW for ungrouped
    # convolutions and win for grouped ones (H100, core/src/emit/triton.cc IsLayoutConv).
    plain, ref, out = _run("conv2d_pointwise", {"conv_tf32": False})
    assert "channels_last" not in plain
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    grouped, ref, out = _run("conv2d_grouped", {"conv_tf32": False})
    assert "_channels_last(v0)" in grouped and "_conv_fp32" in grouped
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
