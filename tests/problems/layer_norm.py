"""LayerNorm over the last dimension with learned affine parameters."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 7
SEQ = 5
HIDDEN = 37


class Model(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.ln = nn.LayerNorm(hidden, eps=1e-5)
        # Non-trivial affine parameters, so a kernel that ignores them is wrong.
        with torch.no_grad():
            self.ln.weight.uniform_(0.5, 1.5)
            self.ln.bias.uniform_(-0.5, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


def get_inputs():
    return [torch.randn(BATCH, SEQ, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]
