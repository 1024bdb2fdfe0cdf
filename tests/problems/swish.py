"""Swish / SiLU written out: x * sigmoid(x)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 14
DIM = 57


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def get_inputs():
    return [torch.randn(BATCH, DIM)]


def get_init_inputs():
    return []
