"""Linear, GELU, then LayerNorm over the output features."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
BATCH = 11
IN_FEATURES = 29
OUT_FEATURES = 37


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.LayerNorm(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.linear(x)))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]
