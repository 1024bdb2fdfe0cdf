"""A matmul written as einsum ("bij,jk->bik"), divided by its Frobenius norm (over every element), plus a
2-norm over the two trailing axes."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
ROWS = 5
INNER = 7
COLS = 6


class Model(nn.Module):
    def __init__(self, inner: int, cols: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(inner, cols) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("bij,jk->bik", x, self.weight)
        scale = torch.linalg.vector_norm(y, dim=(1, 2))  # [B]
        return y / torch.norm(y, p="fro") + scale.view(-1, 1, 1) * 0.01


def get_inputs():
    return [torch.randn(BATCH, ROWS, INNER)]


def get_init_inputs():
    return [INNER, COLS]
