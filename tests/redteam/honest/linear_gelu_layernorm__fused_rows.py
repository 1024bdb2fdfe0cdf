# problem: linear_gelu_layernorm
# policy: strict
# style: one program owns BLOCK_M full rows: tl.dot GEMM + GELU + LayerNorm all in registers (one kernel)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def linear_gelu_ln_kernel(
    x_ptr, w_ptr, b_ptr, g_ptr, beta_ptr, out_ptr,
    M, N, eps,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,   # BLOCK_N >= N: whole rows
):
    # Fuses: linear -> gelu(erf) -> layer_norm(N). Reads x and w, writes out once.
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    col_ok = rn < N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        a = tl.load(x_ptr + rm[:, None] * K + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        wt = tl.load(w_ptr + rn[None, :] * K + kk[:, None], mask=(kk[:, None] < K) & col_ok[None, :], other=0.0)
        acc += tl.dot(a, wt, input_precision="ieee")
    h = acc + tl.load(b_ptr + rn, mask=col_ok, other=0.0)[None, :]
    h = 0.5 * h * (1.0 + tl.math.erf(h * 0.7071067811865476))
    h = tl.where(col_ok[None, :], h, 0.0)
    mean = tl.sum(h, axis=1) / N
    diff = tl.where(col_ok[None, :], h - mean[:, None], 0.0)
    var = tl.sum(diff * diff, axis=1) / N
    y = diff / tl.sqrt(var + eps)[:, None]
    g = tl.load(g_ptr + rn, mask=col_ok, other=0.0)
    beta = tl.load(beta_ptr + rn, mask=col_ok, other=0.0)
    y = y * g[None, :] + beta[None, :]
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], y, mask=(rm[:, None] < M) & col_ok[None, :])


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.LayerNorm(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        M, K = x.shape
        N = self.linear.out_features
        out = torch.empty((M, N), dtype=x.dtype, device=x.device)
        BLOCK_M = 16
        linear_gelu_ln_kernel[(triton.cdiv(M, BLOCK_M),)](
            x, self.linear.weight, self.linear.bias, self.norm.weight, self.norm.bias, out, M, N, self.norm.eps,
            K=K, BLOCK_M=BLOCK_M, BLOCK_N=max(16, triton.next_power_of_2(N)), BLOCK_K=16,
        )
        return out
