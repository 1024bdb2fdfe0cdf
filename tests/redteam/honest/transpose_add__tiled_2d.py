# problem: transpose_add
# policy: strict
# style: 2-D tiles reading the tile and its mirror (transposed access through strides)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def symmetrize_kernel(x_ptr, out_ptr, N, BLOCK: tl.constexpr):
    ri = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    rj = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = (ri[:, None] < N) & (rj[None, :] < N)
    x = tl.load(x_ptr + ri[:, None] * N + rj[None, :], mask=mask, other=0.0)
    xt = tl.load(x_ptr + rj[None, :] * N + ri[:, None], mask=mask, other=0.0)
    tl.store(out_ptr + ri[:, None] * N + rj[None, :], (x + xt) * 0.5, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        N = x.shape[0]
        out = torch.empty_like(x)
        BLOCK = 16
        symmetrize_kernel[(triton.cdiv(N, BLOCK), triton.cdiv(N, BLOCK))](x, out, N, BLOCK=BLOCK)
        return out
