"""Max pooling 1-D with padding and dilation (KernelBench level 1 #41 at small size): window 4, stride 2,
padding 2, dilation 3 over an irregular length. Padding becomes -inf host constants joined by concat; the
dilation a view that puts each residue mod 3 on its own row before an undilated pool."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
CHANNELS = 5
LENGTH = 41  # 41 + 2 * 2 = 45, a multiple of the dilation


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool1d(kernel_size=4, stride=2, padding=2, dilation=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, LENGTH)]


def get_init_inputs():
    return []
