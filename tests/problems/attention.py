"""Scaled dot-product attention, F.scaled_dot_product_attention(q, k, v) (KernelBench level 1 #97 at small
size): imported as softmax(q @ k^T / sqrt(E)) @ v, three kernels (scores with the scale fused into the
softmax, then the second matmul); query and key lengths differ."""

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- sizes (scale these for a GPU run) ----
N_BATCH = 2
HEADS = 3
Q_LEN = 13
KV_LEN = 11
HEAD_DIM = 24
VALUE_DIM = 9


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v)


def get_inputs():
    return [torch.randn(N_BATCH, HEADS, Q_LEN, HEAD_DIM), torch.randn(N_BATCH, HEADS, KV_LEN, HEAD_DIM),
            torch.randn(N_BATCH, HEADS, KV_LEN, VALUE_DIM)]


def get_init_inputs():
    return []
