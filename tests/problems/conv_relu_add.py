"""Conv2d, ReLU, then add a learned per-channel bias."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 2
IN_CHANNELS = 3
OUT_CHANNELS = 6
HEIGHT = 13
WIDTH = 11
KERNEL = 3


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.randn(out_channels, 1, 1) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)) + self.bias


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL]
