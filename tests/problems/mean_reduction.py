"""Mean over the last dimension of a 3-D tensor."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 5
ROWS = 11
COLS = 39


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, dim=self.dim)


def get_inputs():
    return [torch.randn(BATCH, ROWS, COLS)]


def get_init_inputs():
    return [2]
