"""Linear, GroupNorm on a [N, C] activation (the importer views it as [N, C, 1]), Hardtanh."""

import torch
import torch.nn as nn

# ---- sizes (scale these for a GPU run) ----
BATCH = 5
IN_FEATURES = 12
OUT_FEATURES = 24
GROUPS = 4


class Model(nn.Module):
    def __init__(self, in_features: int, out_features: int, groups: int):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.gn = nn.GroupNorm(groups, out_features)
        self.act = nn.Hardtanh(min_val=-0.8, max_val=0.9)
        with torch.no_grad():
            self.gn.weight.copy_(torch.linspace(0.5, 1.5, out_features))
            self.gn.bias.copy_(torch.linspace(-0.1, 0.2, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.gn(self.fc(x)))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES, GROUPS]
