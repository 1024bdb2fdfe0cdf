"""Row-wise log_softmax over dim 1."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 11
FEATURES = 53


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(x, dim=self.dim)


def get_inputs():
    return [torch.randn(BATCH, FEATURES)]


def get_init_inputs():
    return [1]
