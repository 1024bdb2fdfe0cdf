"""Per-feature affine transform y = x * gamma + beta with learned gamma, beta."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 21
FEATURES = 29


class Model(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.randn(features))
        self.beta = nn.Parameter(torch.randn(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma + self.beta


def get_inputs():
    return [torch.randn(BATCH, FEATURES)]


def get_init_inputs():
    return [FEATURES]
