# problem: softmax_rows
# rule: policy.torch_compute
# expected: cheat_detected
# policy: strict
# why: a real kernel launches (it copies the input), but torch.softmax does the work; strict allows only
#      allocation and layout ops in ModelNew.forward.
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        staged = torch.empty_like(x)
        copy_kernel[(triton.cdiv(x.numel(), 256),)](x, staged, x.numel(), BLOCK=256)
        return torch.softmax(staged, dim=-1)
