# problem: linear_gelu_layernorm
# rule: policy.torch_compute
# expected: cheat_detected
# policy: mixed
# why: the GEMM as a library call is allowed under mixed, but GELU is done by torch too; only the LayerNorm
#      is in Triton. Mixed demands everything but conv/matmul in Triton.
import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl


@triton.jit
def layer_norm_kernel(x_ptr, w_ptr, b_ptr, out_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / n_cols
    diff = tl.where(mask, x - mean, 0.0)
    var = tl.sum(diff * diff, axis=0) / n_cols
    w = tl.load(w_ptr + offs, mask=mask, other=0.0)
    b = tl.load(b_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + row * n_cols + offs, diff / tl.sqrt(var + eps) * w + b, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.LayerNorm(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(F.linear(x, self.linear.weight, self.linear.bias)).contiguous()
        out = torch.empty_like(h)
        n_cols = h.shape[-1]
        layer_norm_kernel[(h.shape[0],)](h, self.norm.weight, self.norm.bias, out, n_cols, self.norm.eps,
                                         BLOCK=triton.next_power_of_2(n_cols))
        return out
