# problem: l2_normalize
# rule: -
# expected: incorrect
# why: "optimises" the norm with sum(|x|) * c where c was fitted for one input scale: a hard-coded shortcut
#      that holds for no distribution exactly; stands for kernels tuned to pass one draw.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def l2_normalize_kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
    approx_norm = tl.sum(tl.abs(x), axis=0) * 0.2182  # ~ sqrt(pi / (2 * n)) for n = 33, unit normal
    tl.store(out_ptr + row * n_cols + offs, x / approx_norm, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        l2_normalize_kernel[(x.shape[0],)](x, out, x.shape[1], BLOCK=triton.next_power_of_2(x.shape[1]))
        return out
