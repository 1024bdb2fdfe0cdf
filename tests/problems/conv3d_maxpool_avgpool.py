"""Conv3d, MaxPool3d (window 2), AvgPool3d (window 2, stride 1), then a 1-D AvgPool with ceil_mode=True
whose windows all start inside the input (the floor-mode shape), then a sum over the pooled axis."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 2
IN_CHANNELS = 2
OUT_CHANNELS = 4
DEPTH = 8
HEIGHT = 11
WIDTH = 9
KERNEL = 3


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size)
        self.max_pool = nn.MaxPool3d(kernel_size=2)
        self.avg_pool = nn.AvgPool3d(kernel_size=2, stride=1)
        self.pool1d = nn.AvgPool1d(kernel_size=3, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg_pool(self.max_pool(self.conv(x)))  # [N, C, 2, 3, 2]
        x = self.pool1d(x.reshape(x.size(0), x.size(1), -1))  # [N, C, 12] -> [N, C, 4]
        return torch.sum(x, dim=2)


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, DEPTH, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL]
