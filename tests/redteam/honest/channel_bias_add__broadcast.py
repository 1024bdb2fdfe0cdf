# problem: channel_bias_add
# policy: strict
# style: broadcast of a [1, C, 1, 1] parameter inside a flat elementwise kernel over two inputs
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def bias_mul_kernel(x_ptr, y_ptr, b_ptr, out_ptr, n, C, HW, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // HW) % C
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + c, mask=mask, other=0.0)
    tl.store(out_ptr + offs, (x + b) * y, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        y = y.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        BLOCK = 256
        bias_mul_kernel[(triton.cdiv(n, BLOCK),)](x, y, self.bias, out, n, x.shape[1], x.shape[2] * x.shape[3],
                                                  BLOCK=BLOCK)
        return out
