"""Residual MLP block: x + Linear2(ReLU(Linear1(x)))."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 9
HIDDEN = 24
INNER = 40


class Model(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(torch.relu(self.fc1(x)))


def get_inputs():
    return [torch.randn(BATCH, HIDDEN)]


def get_init_inputs():
    return [HIDDEN, INNER]
