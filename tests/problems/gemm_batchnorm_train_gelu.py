"""Linear, BatchNorm1d in training mode (batch statistics over the batch axis), scaling, GELU."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
BATCH = 7
IN_FEATURES = 24
OUT_FEATURES = 20
SCALE = 1.5


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int, scale: float):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)
        self.scale = scale
        with torch.no_grad():
            self.bn.weight.copy_(torch.linspace(0.4, 1.6, out_features))
            self.bn.bias.copy_(torch.linspace(0.3, -0.3, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.bn(self.fc(x) * self.scale))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES, SCALE]
