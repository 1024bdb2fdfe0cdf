"""Elementwise Mish: x * tanh(softplus(x))."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
BATCH = 10
DIM = 61


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.tanh(F.softplus(x))


def get_inputs():
    return [torch.randn(BATCH, DIM)]


def get_init_inputs():
    return []
