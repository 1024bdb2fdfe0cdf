# problem: scale_shift
# policy: strict
# style: 2-D grid of [BLOCK_M, BLOCK_N] tiles, per-column gamma/beta broadcast along rows
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scale_shift_kernel(x_ptr, g_ptr, b_ptr, out_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * N + rn[None, :], mask=mask, other=0.0)
    g = tl.load(g_ptr + rn, mask=rn < N, other=0.0)
    b = tl.load(b_ptr + rn, mask=rn < N, other=0.0)
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], x * g[None, :] + b[None, :], mask=mask)


class ModelNew(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(features))
        self.beta = nn.Parameter(torch.randn(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        M, N = x.shape
        out = torch.empty_like(x)
        grid = (triton.cdiv(M, 8), triton.cdiv(N, 16))
        scale_shift_kernel[grid](x, self.gamma, self.beta, out, M, N, BLOCK_M=8, BLOCK_N=16)
        return out
