"""Row-wise softmax over the last dimension."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 13
FEATURES = 37


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.randn(BATCH, FEATURES)]


def get_init_inputs():
    return []
