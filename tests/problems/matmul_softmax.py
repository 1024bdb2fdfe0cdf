"""Matmul followed by a row softmax (attention-score style)."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
M = 13
K = 19
N = 27


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return torch.softmax(q @ k, dim=-1)


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
