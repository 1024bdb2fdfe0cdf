"""Plain matrix multiplication C = A @ B with irregular sizes."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
M = 19
K = 23
N = 29


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
