"""Sum over dim 1, keeping the dimension."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 9
DIM1 = 41
DIM2 = 13


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim, keepdim=True)


def get_inputs():
    return [torch.randn(BATCH, DIM1, DIM2)]


def get_init_inputs():
    return [1]
