# problem: conv_relu_add
# policy: hybrid
# style: hybrid with an in-place epilogue: torch runs the biased convolution, a Triton kernel applies ReLU and
#        the extra channel bias to the convolution's own output buffer
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_add_inplace_kernel(y_ptr, b_ptr, n, C, HW, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // HW) % C
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + c, mask=mask, other=0.0)
    tl.store(y_ptr + offs, tl.maximum(y, 0.0) + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).contiguous()
        n, C, HW = y.numel(), y.shape[1], y.shape[2] * y.shape[3]
        relu_add_inplace_kernel[(triton.cdiv(n, 256),)](y, self.bias, n, C, HW, BLOCK=256)
        return y
