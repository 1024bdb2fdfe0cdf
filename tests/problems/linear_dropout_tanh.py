"""Linear, Dropout (inactive: p=0), tanh."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 10
IN_FEATURES = 27
OUT_FEATURES = 19


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.dropout = nn.Dropout(p=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dropout(self.linear(x)))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
