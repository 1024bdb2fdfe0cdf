"""Conv2d, BatchNorm2d in training mode (batch statistics over N, H, W per channel), Tanh, MaxPool2d.
KernelBench calls models in training mode; the running-stat update is a side effect, not an output."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
IN_CHANNELS = 3
OUT_CHANNELS = 6
HEIGHT = 13
WIDTH = 10
KERNEL = 3
POOL = 2


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-4)
        self.pool = nn.MaxPool2d(pool)
        with torch.no_grad():  # non-trivial affine parameters (no RNG, so any seeded init agrees)
            self.bn.weight.copy_(torch.linspace(0.5, 1.5, out_channels))
            self.bn.bias.copy_(torch.linspace(-0.2, 0.3, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.tanh(self.bn(self.conv(x))))


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH) * 2.0 + 0.5]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL, POOL]
