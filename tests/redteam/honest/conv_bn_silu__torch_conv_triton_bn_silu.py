# problem: conv_bn_silu
# policy: mixed
# style: library convolution, Triton epilogue: conv bias + inference batch norm (running stats) + SiLU
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl


@triton.jit
def bn_silu_kernel(
    y_ptr, conv_b_ptr, mean_ptr, var_ptr, w_ptr, b_ptr, out_ptr,
    n, C, HW, eps,
    BLOCK: tl.constexpr,
):
    # Fuses: + conv bias -> (y - running_mean) / sqrt(running_var + eps) * w + b -> silu.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    c = (offs // HW) % C
    y = tl.load(y_ptr + offs, mask=mask, other=0.0) + tl.load(conv_b_ptr + c, mask=mask, other=0.0)
    mean = tl.load(mean_ptr + c, mask=mask, other=0.0)
    var = tl.load(var_ptr + c, mask=mask, other=1.0)
    w = tl.load(w_ptr + c, mask=mask, other=0.0)
    b = tl.load(b_ptr + c, mask=mask, other=0.0)
    z = (y - mean) / tl.sqrt(var + eps) * w + b
    tl.store(out_ptr + offs, z / (1.0 + tl.exp(-z)), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.linspace(-0.3, 0.4, out_channels))
            self.bn.running_var.copy_(torch.linspace(0.5, 1.7, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.conv.weight, None, self.conv.stride, self.conv.padding).contiguous()
        out = torch.empty_like(y)
        n = y.numel()
        BLOCK = 256
        bn_silu_kernel[(triton.cdiv(n, BLOCK),)](
            y, self.conv.bias, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias, out,
            n, y.shape[1], y.shape[2] * y.shape[3], self.bn.eps, BLOCK=BLOCK,
        )
        return out
