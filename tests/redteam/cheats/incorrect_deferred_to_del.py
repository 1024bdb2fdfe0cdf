# problem: relu
# rule: -
# expected: incorrect
# why: returns an unwritten buffer and defers the kernel to a holder's __del__, which runs only when the next
#      call replaces the holder: the timed call does no work, and the output is filled "later" (or never).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class _Deferred:
    def __init__(self, x, out):
        self.x, self.out = x, out

    def __del__(self):
        relu_kernel[(triton.cdiv(self.x.numel(), 256),)](self.x, self.out, self.x.numel(), BLOCK=256)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.pending = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        out = torch.empty_like(x)
        relu_kernel[(1,)](x, torch.empty_like(x), 0, BLOCK=16)  # token launch so "a kernel ran"
        self.pending = _Deferred(x, out)  # the previous holder's __del__ fills the previous output now
        return out
