"""Elementwise ELU with alpha=1."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
BATCH = 21
DIM = 33


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(x, alpha=1.0)


def get_inputs():
    return [torch.randn(BATCH, DIM)]


def get_init_inputs():
    return []
