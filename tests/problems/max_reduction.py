"""Max over dim 1 (values only)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 12
FEATURES = 47


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(x, dim=1).values


def get_inputs():
    return [torch.randn(BATCH, FEATURES)]


def get_init_inputs():
    return []
