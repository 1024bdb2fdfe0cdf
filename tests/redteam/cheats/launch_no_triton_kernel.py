# problem: relu
# rule: launch.no_triton_kernel
# expected: cheat_detected
# why: plain PyTorch dressed up as a solution; correct values, but no Triton kernel exists at all.
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)
