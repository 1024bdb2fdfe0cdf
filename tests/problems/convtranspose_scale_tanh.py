"""ConvTranspose2d, multiply by a scalar, then tanh."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 2
IN_CHANNELS = 4
OUT_CHANNELS = 3
HEIGHT = 7
WIDTH = 5
KERNEL = 3
STRIDE = 2
SCALE = 0.75


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, scale: float):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.deconv(x) * self.scale)


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, SCALE]
