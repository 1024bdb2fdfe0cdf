# problem: matmul_softmax
# policy: hybrid
# style: hybrid as the paper's search emits it: the matmul stays in PyTorch, a Triton row kernel does the softmax
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def row_softmax_kernel(x_ptr, out_ptr, N, stride, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(x_ptr + row * stride + cols, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(out_ptr + row * stride + cols, e / tl.sum(e, axis=0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        scores = (q @ k).contiguous()
        out = torch.empty_like(scores)
        rows, cols = scores.shape
        row_softmax_kernel[(rows,)](scores, out, cols, scores.stride(0), BLOCK=triton.next_power_of_2(cols))
        return out
