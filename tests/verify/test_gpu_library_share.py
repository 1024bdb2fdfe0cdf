"""GPU only: under hybrid, a cuDNN convolution with a fused Triton epilogue is a Triton solution (the conv
is a library call `mixed` allows, so its time is not in the share's denominator)."""

from __future__ import annotations

import pytest
import torch

from drtriton.verify import Status, VerifierPool, VerifyConfig

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PROBLEM = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3)

    def forward(self, x):
        return torch.relu(self.conv(x)) * 2.0

def get_inputs():
    return [torch.randn(32, 64, 64, 64)]

def get_init_inputs():
    return [64, 128]
'''

CONV_THEN_TRITON_EPILOGUE = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl

@triton.jit
def relu_scale(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0) * 2.0, mask=mask)

class ModelNew(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3)

    def forward(self, x):
        y = self.conv(x).contiguous()
        out = torch.empty_like(y)
        n = y.numel()
        relu_scale[(triton.cdiv(n, 1024),)](y, out, n, BLOCK=1024)
        return out
'''


@pytest.mark.gpu
@needs_gpu
def test_gpu_conv_with_triton_epilogue_passes_the_hybrid_share_rule():
    with VerifierPool(VerifyConfig(device="cuda", policy="hybrid", n_timing=20), workers=1) as pool:
        v = pool.verify(PROBLEM, CONV_THEN_TRITON_EPILOGUE)
    assert v.status is Status.CORRECT, v.reason
