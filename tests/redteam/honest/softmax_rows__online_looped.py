# problem: softmax_rows
# policy: strict
# style: online softmax, columns streamed in chunks (running max and rescaled sum), two passes over the row
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def online_softmax_kernel(
    x_ptr, out_ptr,
    N_COLS: tl.constexpr,    # constexpr so the chunk loop also runs under the interpreter (DESIGN §9)
    CHUNK: tl.constexpr,
):
    row = tl.program_id(0)
    base = row * N_COLS
    m = tl.full((CHUNK,), -float("inf"), tl.float32)
    s = tl.zeros((CHUNK,), tl.float32)
    # Pass 1: per-lane running max and rescaled sum of exponentials.
    for start in range(0, N_COLS, CHUNK):
        offs = start + tl.arange(0, CHUNK)
        x = tl.load(x_ptr + base + offs, mask=offs < N_COLS, other=-float("inf"))
        m_new = tl.maximum(m, x)
        scale = tl.where(m_new == -float("inf"), 0.0, tl.exp(m - m_new))
        s = s * scale + tl.where(x == -float("inf"), 0.0, tl.exp(x - m_new))
        m = m_new
    row_max = tl.max(m, axis=0)
    row_sum = tl.sum(tl.where(m == -float("inf"), 0.0, s * tl.exp(m - row_max)), axis=0)
    # Pass 2: normalise.
    for start in range(0, N_COLS, CHUNK):
        offs = start + tl.arange(0, CHUNK)
        mask = offs < N_COLS
        x = tl.load(x_ptr + base + offs, mask=mask, other=0.0)
        tl.store(out_ptr + base + offs, tl.exp(x - row_max) / row_sum, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        n_cols = x.shape[-1]
        out = torch.empty_like(x)
        online_softmax_kernel[(x.numel() // n_cols,)](x, out, N_COLS=n_cols, CHUNK=16)
        return out
