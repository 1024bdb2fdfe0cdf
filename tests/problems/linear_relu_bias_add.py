"""Linear, then ReLU, then add a learned per-feature bias."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 13
IN_FEATURES = 23
OUT_FEATURES = 31


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x)) + self.bias


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
