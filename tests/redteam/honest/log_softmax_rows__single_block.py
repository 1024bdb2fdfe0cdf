# problem: log_softmax_rows
# policy: strict
# style: row reduction, log_softmax = x - max - log(sum(exp(x - max)))
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def log_softmax_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    shifted = x - tl.max(x, axis=0)
    lse = tl.log(tl.sum(tl.exp(shifted), axis=0))
    tl.store(out_ptr + row * n_cols + offs, shifted - lse, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The reduced dim must be the last one for this kernel; move it there (a layout op) and back.
        xt = x.movedim(self.dim, -1).contiguous()
        n_cols = xt.shape[-1]
        out = torch.empty_like(xt)
        log_softmax_kernel[(xt.numel() // n_cols,)](xt, out, n_cols, BLOCK=triton.next_power_of_2(n_cols))
        return out.movedim(-1, self.dim).contiguous()
