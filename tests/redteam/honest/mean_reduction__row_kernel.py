# problem: mean_reduction
# policy: strict
# style: last-dim mean, several rows per program (2-D tile, reduce axis 1)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def row_mean_kernel(x_ptr, out_ptr, n_rows, n_cols, ROWS: tl.constexpr, BLOCK: tl.constexpr):
    r = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    c = tl.arange(0, BLOCK)
    mask = (r[:, None] < n_rows) & (c[None, :] < n_cols)
    tile = tl.load(x_ptr + r[:, None] * n_cols + c[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + r, tl.sum(tile, axis=1) / n_cols, mask=r < n_rows)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.dim in (-1, x.dim() - 1), "this kernel reduces the last dimension"
        x = x.contiguous()
        n_cols = x.shape[-1]
        n_rows = x.numel() // n_cols
        out = torch.empty(x.shape[:-1], dtype=x.dtype, device=x.device)
        ROWS = 8
        row_mean_kernel[(triton.cdiv(n_rows, ROWS),)](x, out, n_rows, n_cols, ROWS=ROWS,
                                                       BLOCK=triton.next_power_of_2(n_cols))
        return out
