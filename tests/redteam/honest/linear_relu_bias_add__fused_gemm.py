# problem: linear_relu_bias_add
# policy: strict
# style: tl.dot GEMM against the transposed Linear weight (read through strides), fused bias+ReLU+bias epilogue
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def linear_relu_bias_kernel(
    x_ptr, w_ptr, b_ptr, extra_ptr, out_ptr,   # x [M, K], w [N, K] (nn.Linear layout), b/extra [N], out [M, N]
    M, N,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    # Fuses: linear (x @ w^T + b) -> relu -> + extra. Reads x, w once per tile; writes out once.
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        a = tl.load(x_ptr + rm[:, None] * K + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        wt = tl.load(w_ptr + rn[None, :] * K + kk[:, None], mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, wt, input_precision="ieee")
    bias = tl.load(b_ptr + rn, mask=rn < N, other=0.0)
    extra = tl.load(extra_ptr + rn, mask=rn < N, other=0.0)
    y = tl.maximum(acc + bias[None, :], 0.0) + extra[None, :]
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], y, mask=(rm[:, None] < M) & (rn[None, :] < N))


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.bias = nn.Parameter(torch.randn(out_features) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        M, K = x.shape
        N = self.linear.out_features
        out = torch.empty((M, N), dtype=x.dtype, device=x.device)
        grid = (triton.cdiv(M, 16), triton.cdiv(N, 16))
        linear_relu_bias_kernel[grid](x, self.linear.weight, self.linear.bias, self.bias, out, M, N,
                                      K=K, BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
        return out
