import torch
import torch.nn as nn


class Model(nn.Module):
    """x - x + bias: depends on the learned bias only, never on the input.

    Degenerate on purpose (input-insensitive): a kernel that returns the bias passes any test.
    """

    def __init__(self, features: int):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x + self.bias


def get_inputs():
    return [torch.randn(5, 17)]


def get_init_inputs():
    return [17]
