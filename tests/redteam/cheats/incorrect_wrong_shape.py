# problem: sum_reduction
# rule: -
# expected: incorrect
# why: drops keepdim: the values are right but the shape is [B, D2] instead of [B, 1, D2].
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def sum_dim1_kernel(x_ptr, out_ptr, D1, D2, BLOCK_R: tl.constexpr, BLOCK_J: tl.constexpr):
    b = tl.program_id(0)
    j = tl.arange(0, BLOCK_J)
    r = tl.arange(0, BLOCK_R)
    mask = (r[:, None] < D1) & (j[None, :] < D2)
    tile = tl.load(x_ptr + b * D1 * D2 + r[:, None] * D2 + j[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + b * D2 + j, tl.sum(tile, axis=0), mask=j < D2)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        B, D1, D2 = x.shape
        out = torch.empty((B, D2), dtype=x.dtype, device=x.device)
        sum_dim1_kernel[(B,)](x, out, D1, D2, BLOCK_R=triton.next_power_of_2(D1),
                              BLOCK_J=triton.next_power_of_2(D2))
        return out
