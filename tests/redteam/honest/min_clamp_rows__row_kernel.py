# problem: min_clamp_rows
# policy: strict
# style: row min with +inf padding, clamp fused before the store
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def row_min_clamp_kernel(x_ptr, out_ptr, n_cols, lo, hi, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + offs, mask=offs < n_cols, other=float("inf"))
    m = tl.min(x, axis=0)
    tl.store(out_ptr + row, tl.minimum(tl.maximum(m, lo), hi))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        out = torch.empty((rows,), dtype=x.dtype, device=x.device)
        row_min_clamp_kernel[(rows,)](x, out, cols, -2.0, 0.5, BLOCK=triton.next_power_of_2(cols))
        return out
