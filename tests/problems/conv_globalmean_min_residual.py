"""ConvTranspose2d, global mean over (H, W) with keepdim, a bias, torch.min against a scalar tensor, a
detached residual copy, and a view that inserts unit axes."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
IN_CHANNELS = 4
OUT_CHANNELS = 6
HEIGHT = 7
WIDTH = 5
KERNEL = 3
MIN_VALUE = 0.05


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, min_value: float):
        super().__init__()
        self.conv_t = nn.ConvTranspose2d(in_channels, out_channels, kernel_size)
        self.bias = nn.Parameter(torch.linspace(-0.1, 0.1, out_channels))
        self.min_value = min_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_t(x)
        m = torch.mean(x, dim=(2, 3), keepdim=True)  # [N, C, 1, 1]
        m = m + self.bias.view(1, -1, 1, 1)
        m = torch.min(m, torch.tensor(self.min_value))
        residual = x.clone().detach()
        return torch.multiply(x, m) + residual


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL, MIN_VALUE]
