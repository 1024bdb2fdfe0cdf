"""Gemm (Linear), sigmoid, then sum over the features (one value per row, kept as a column)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 17
IN_FEATURES = 21
OUT_FEATURES = 35


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.gemm(x)).sum(dim=1, keepdim=True)


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
