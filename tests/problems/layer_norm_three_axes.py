"""LayerNorm over the last three axes (normalized_shape a tuple), then a ReLU-gated residual."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 3
FEATURES = 4
HEIGHT = 5
WIDTH = 6


class Model(nn.Module):
    def __init__(self, features: int, height: int, width: int):
        super().__init__()
        self.ln = nn.LayerNorm((features, height, width), eps=1e-5)
        with torch.no_grad():
            self.ln.weight.copy_(torch.linspace(0.5, 1.5, features * height * width).view(features, height, width))
            self.ln.bias.copy_(torch.linspace(-0.3, 0.3, features * height * width).view(features, height, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.ln(x)) + 0.1 * x


def get_inputs():
    return [torch.randn(BATCH, FEATURES, HEIGHT, WIDTH) * 3.0 + 1.0]


def get_init_inputs():
    return [FEATURES, HEIGHT, WIDTH]
