# problem: conv_relu_add
# policy: mixed
# style: convolution as a library call (no bias), Triton epilogue fuses conv bias + ReLU + extra channel bias
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl


@triton.jit
def bias_relu_bias_kernel(
    y_ptr, conv_b_ptr, extra_b_ptr, out_ptr,
    n, C, HW,
    BLOCK: tl.constexpr,
):
    # Fuses: + conv bias[c] -> relu -> + extra bias[c] over an NCHW tensor.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // HW) % C
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    cb = tl.load(conv_b_ptr + c, mask=mask, other=0.0)
    eb = tl.load(extra_b_ptr + c, mask=mask, other=0.0)
    tl.store(out_ptr + offs, tl.maximum(y + cb, 0.0) + eb, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.conv.weight, None, self.conv.stride, self.conv.padding).contiguous()
        out = torch.empty_like(y)
        n = y.numel()
        C, HW = y.shape[1], y.shape[2] * y.shape[3]
        BLOCK = 256
        bias_relu_bias_kernel[(triton.cdiv(n, BLOCK),)](y, self.conv.bias, self.bias, out, n, C, HW, BLOCK=BLOCK)
        return out
