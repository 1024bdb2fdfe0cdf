# problem: relu
# rule: output.reused_buffer
# expected: cheat_detected
# why: computes into one buffer allocated on the first call and returns that same buffer every call; values are
#      right for the latest call, but every earlier result the caller holds is silently overwritten.
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


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.buffer = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        if self.buffer is None or self.buffer.shape != x.shape:
            self.buffer = torch.empty_like(x)
        relu_kernel[(triton.cdiv(x.numel(), 256),)](x, self.buffer, x.numel(), BLOCK=256)
        return self.buffer
