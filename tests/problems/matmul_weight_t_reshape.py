"""x @ W.T with a parameter used through .T, a reshape that splits the feature axis into three, a
max over the middle split, and a reshape that merges axes that are not trailing."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 6
IN_FEATURES = 10
SPLIT_A = 3
SPLIT_B = 4
SPLIT_C = 2


class Model(nn.Module):
    def __init__(self, in_features: int, a: int, b: int, c: int):
        super().__init__()
        # Scaled like nn.Linear's init (outputs O(1) at any in_features): with a fixed 0.3 the outputs grow
        # as sqrt(in_features) and the product below amplifies fp32 rounding past 1e-4 at in_features 1024
        # (torch's own fp32 result was 7.3e-4 off the fp64 one).
        self.weight = nn.Parameter(torch.randn(a * b * c, in_features) / in_features**0.5)
        self.a, self.b, self.c = a, b, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(x, self.weight.T)  # [N, a*b*c]
        y = y.view(x.size(0), self.a, self.b, self.c)
        z = torch.amax(y, dim=2)  # [N, a, c]
        merged = y.reshape(x.size(0), self.a * self.b, self.c)  # merges axes 1 and 2, keeps the last
        return merged * z.sum(dim=1, keepdim=True)


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, SPLIT_A, SPLIT_B, SPLIT_C]
