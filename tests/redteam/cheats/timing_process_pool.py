# problem: relu
# rule: timing.concurrency
# expected: cheat_detected
# why: hands the work to a process pool (outside the worker's accounting and memory cap) and copies it back.
from concurrent.futures import ProcessPoolExecutor

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


def _relu_elsewhere(x):
    x = x.contiguous()
    out = torch.empty_like(x)
    relu_kernel[(triton.cdiv(x.numel(), 256),)](x, out, x.numel(), BLOCK=256)
    return out


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = ProcessPoolExecutor(max_workers=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool.submit(_relu_elsewhere, x).result()
