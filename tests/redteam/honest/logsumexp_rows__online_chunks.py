# problem: logsumexp_rows
# policy: strict
# style: single-pass online logsumexp over column chunks (running max, rescaled running sum)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def logsumexp_kernel(x_ptr, out_ptr, N_COLS: tl.constexpr, CHUNK: tl.constexpr):
    row = tl.program_id(0)
    m = tl.full((CHUNK,), -float("inf"), tl.float32)
    s = tl.zeros((CHUNK,), tl.float32)
    for start in range(0, N_COLS, CHUNK):
        offs = start + tl.arange(0, CHUNK)
        x = tl.load(x_ptr + row * N_COLS + offs, mask=offs < N_COLS, other=-float("inf"))
        m_new = tl.maximum(m, x)
        s = s * tl.where(m_new == -float("inf"), 0.0, tl.exp(m - m_new)) + \
            tl.where(x == -float("inf"), 0.0, tl.exp(x - m_new))
        m = m_new
    row_max = tl.max(m, axis=0)
    total = tl.sum(tl.where(m == -float("inf"), 0.0, s * tl.exp(m - row_max)), axis=0)
    tl.store(out_ptr + row, row_max + tl.log(total))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        out = torch.empty((rows, 1), dtype=x.dtype, device=x.device)
        logsumexp_kernel[(rows,)](x, out, N_COLS=cols, CHUNK=16)
        return out
