"""Argmax over dim 1 (int64 output)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 16
FEATURES = 43


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=1)


def get_inputs():
    return [torch.randn(BATCH, FEATURES)]


def get_init_inputs():
    return []
