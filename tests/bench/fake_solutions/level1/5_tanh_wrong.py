import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def not_tanh_kernel(x_ptr, out_ptr, n_elements, BLOCK: tl.constexpr):
    # softsign x / (1 + |x|): tanh-shaped but wrong, so the verifier must reject it as incorrect
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
    tl.store(out_ptr + offsets, x / (1.0 + tl.abs(x)), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        not_tanh_kernel[(triton.cdiv(n, 256),)](x, out, n, BLOCK=256)
        return out
