# problem: softmax_rows
# rule: fallback.calls_reference
# expected: cheat_detected
# why: inherits from the reference Model and defers to its forward through super().
import torch
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)


class ModelNew(Model):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scratch = torch.empty_like(x)
        relu_kernel[(1,)](x, scratch, 1, BLOCK=16)
        return super().forward(x)
