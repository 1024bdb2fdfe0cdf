"""An MLP held in nn.Sequential (children named by index: self.net[0]) with a training-mode BatchNorm1d,
a head from an nn.ModuleList, and a class attribute read by __init__ (as ResNet blocks' `expansion`)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 6
IN_FEATURES = 10
HIDDEN = 12
OUT_FEATURES = 5


class Model(nn.Module):
    expansion = 2

    def __init__(self, in_features: int, hidden: int, out_features: int):
        super().__init__()
        wide = hidden * self.expansion
        self.net = nn.Sequential(nn.Linear(in_features, wide), nn.BatchNorm1d(wide), nn.ReLU(),
                                 nn.Linear(wide, hidden), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(hidden, out_features), nn.Linear(hidden, out_features)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)
        return self.heads[0](h) - self.heads[1](h) * 0.5


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, HIDDEN, OUT_FEATURES]
