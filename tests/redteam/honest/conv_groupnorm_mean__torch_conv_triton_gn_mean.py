# problem: conv_groupnorm_mean
# policy: mixed
# style: library convolution; one Triton program per sample: group statistics, affine, mean over channels
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl


@triton.jit
def groupnorm_mean_kernel(
    y_ptr, conv_b_ptr, w_ptr, b_ptr, out_ptr,   # y: [B, C, HW] conv output without bias; out: [B, HW]
    HW, eps,
    C: tl.constexpr, G: tl.constexpr,
    BLOCK_C: tl.constexpr,    # channels per group, power of two >= C // G
    BLOCK_HW: tl.constexpr,   # >= HW
):
    # Fuses: + conv bias -> group norm (per sample, per group) -> affine -> mean over C.
    sample = tl.program_id(0)
    CPG: tl.constexpr = C // G
    ch = tl.arange(0, BLOCK_C)
    hw = tl.arange(0, BLOCK_HW)
    total = tl.zeros((BLOCK_HW,), tl.float32)
    for g in tl.static_range(G):
        c = g * CPG + ch
        mask = (ch[:, None] < CPG) & (hw[None, :] < HW)
        y = tl.load(y_ptr + sample * C * HW + c[:, None] * HW + hw[None, :], mask=mask, other=0.0)
        y = y + tl.load(conv_b_ptr + c, mask=ch < CPG, other=0.0)[:, None]
        count = CPG * HW
        mean = tl.sum(tl.sum(tl.where(mask, y, 0.0), axis=1), axis=0) / count
        diff = tl.where(mask, y - mean, 0.0)
        var = tl.sum(tl.sum(diff * diff, axis=1), axis=0) / count
        z = diff / tl.sqrt(var + eps)
        w = tl.load(w_ptr + c, mask=ch < CPG, other=0.0)
        b = tl.load(b_ptr + c, mask=ch < CPG, other=0.0)
        z = tl.where(mask, z * w[:, None] + b[:, None], 0.0)
        total += tl.sum(z, axis=0)
    tl.store(out_ptr + sample * HW + hw, total / C, mask=hw < HW)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, num_groups: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.norm = nn.GroupNorm(num_groups, out_channels)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.conv.weight, None, self.conv.stride, self.conv.padding).contiguous()
        B, C, H, W = y.shape
        G = self.norm.num_groups
        out = torch.empty((B, H, W), dtype=y.dtype, device=y.device)
        groupnorm_mean_kernel[(B,)](
            y, self.conv.bias, self.norm.weight, self.norm.bias, out, H * W, self.norm.eps,
            C=C, G=G, BLOCK_C=triton.next_power_of_2(C // G), BLOCK_HW=triton.next_power_of_2(H * W),
        )
        return out
