"""Cumulative sum of the entries a bool mask keeps, torch.cumsum(x * mask, dim) (KernelBench level 1 #93 at
small size). The mask is read by the scan kernel as a bool tensor (promoted to 0/1 in the product)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
ROWS = 13
COLS = 301


class Model(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x * mask, dim=self.dim)


def get_inputs():
    x = torch.randn(ROWS, COLS)
    return [x, torch.randint(0, 2, x.shape).bool()]


def get_init_inputs():
    return [1]
