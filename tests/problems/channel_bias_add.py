"""Broadcast add of a per-channel bias to an NCHW tensor, then multiply by a second input."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
CHANNELS = 5
HEIGHT = 9
WIDTH = 7


class Model(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x + self.bias) * y


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH), torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [CHANNELS]
