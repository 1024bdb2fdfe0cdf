# problem: log_softmax_rows
# rule: -
# expected: incorrect
# why: computes log(softmax) as log of a ratio but with the wrong sign in the shift; padded lanes make the max
#      -inf, and -inf - (-inf) = NaN reaches every row: NaN outputs must fail, never pass as "close".
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
    m = tl.min(x, axis=0)  # bug: min over -inf padding is -inf
    shifted = x - m
    lse = tl.log(tl.sum(tl.exp(shifted), axis=0))
    tl.store(out_ptr + row * n_cols + offs, shifted - lse, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n_cols = x.shape[-1]
        out = torch.empty_like(x)
        log_softmax_kernel[(x.shape[0],)](x, out, n_cols, BLOCK=triton.next_power_of_2(n_cols))
        return out
