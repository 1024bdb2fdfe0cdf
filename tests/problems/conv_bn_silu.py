"""Conv2d, BatchNorm2d in inference form (running statistics), then SiLU."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
BATCH = 2
IN_CHANNELS = 3
OUT_CHANNELS = 5
HEIGHT = 12
WIDTH = 9
KERNEL = 3


class Model(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        # Deterministic, non-trivial running statistics (no RNG, so any seeded init agrees).
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.linspace(-0.3, 0.4, out_channels))
            self.bn.running_var.copy_(torch.linspace(0.5, 1.7, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        # Inference-mode batch norm regardless of train()/eval(): uses the running statistics.
        y = F.batch_norm(y, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias,
                         training=False, eps=self.bn.eps)
        return F.silu(y)


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL]
