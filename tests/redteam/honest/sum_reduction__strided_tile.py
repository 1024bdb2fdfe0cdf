# problem: sum_reduction
# policy: strict
# style: reduction over a middle dimension: each program loads a [D1, BLOCK_J] tile with strides, sums axis 0
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def sum_dim1_kernel(
    x_ptr, out_ptr,          # x: [B, D1, D2] contiguous; out: [B, 1, D2]
    D1, D2,
    BLOCK_R: tl.constexpr,   # >= D1
    BLOCK_J: tl.constexpr,
):
    b = tl.program_id(0)
    j = tl.program_id(1) * BLOCK_J + tl.arange(0, BLOCK_J)
    r = tl.arange(0, BLOCK_R)
    mask = (r[:, None] < D1) & (j[None, :] < D2)
    tile = tl.load(x_ptr + b * D1 * D2 + r[:, None] * D2 + j[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + b * D2 + j, tl.sum(tile, axis=0), mask=j < D2)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.dim == 1 and x.dim() == 3, "this kernel reduces dim 1 of a 3-D tensor"
        x = x.contiguous()
        B, D1, D2 = x.shape
        out = torch.empty((B, 1, D2), dtype=x.dtype, device=x.device)
        BLOCK_J = 8
        grid = (B, triton.cdiv(D2, BLOCK_J))
        sum_dim1_kernel[grid](x, out, D1, D2, BLOCK_R=triton.next_power_of_2(D1), BLOCK_J=BLOCK_J)
        return out
