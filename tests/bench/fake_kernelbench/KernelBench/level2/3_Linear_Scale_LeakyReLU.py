import torch
import torch.nn as nn


class Model(nn.Module):
    """Linear, then multiply by a constant, then LeakyReLU."""

    def __init__(self, in_features: int, out_features: int, scale: float, negative_slope: float):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.scale = scale
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        x = x * self.scale
        return torch.nn.functional.leaky_relu(x, negative_slope=self.negative_slope)


batch, in_features, out_features = 12, 40, 24


def get_inputs():
    return [torch.randn(batch, in_features)]


def get_init_inputs():
    return [in_features, out_features, 1.5, 0.1]
