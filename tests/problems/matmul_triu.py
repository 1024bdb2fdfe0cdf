"""Upper-triangular part of a matrix product, torch.triu(A @ B) (KernelBench level 1 #14 at small size).

The importer writes triu as an index mask (host arange constants, pointwise) fused into the matmul epilogue.
"""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
N = 37


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.triu(torch.matmul(a, b))


def get_inputs():
    return [torch.triu(torch.rand(N, N)), torch.triu(torch.rand(N, N))]


def get_init_inputs():
    return []
