# problem: softmax_rows
# policy: strict
# style: row reduction, one program per row, whole row in one block (max-subtracted softmax)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def softmax_row_kernel(
    x_ptr, out_ptr,          # [rows, cols] contiguous fp32
    n_cols,
    BLOCK: tl.constexpr,     # power of two >= n_cols
):
    # Reads one row once, writes one row once.
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    num = tl.exp(x)
    den = tl.sum(num, axis=0)
    tl.store(out_ptr + row * n_cols + offs, num / den, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n_cols = x.shape[-1]
        rows = x.numel() // n_cols
        out = torch.empty_like(x)
        softmax_row_kernel[(rows,)](x, out, n_cols, BLOCK=triton.next_power_of_2(n_cols))
        return out
