# problem: gemm_sigmoid_sum
# policy: strict
# style: GEMM with whole output rows per program, sigmoid and row sum fused in the epilogue
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def gemm_sigmoid_sum_kernel(
    x_ptr, w_ptr, b_ptr, out_ptr,    # out: [M, 1]
    M, N,
    K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        a = tl.load(x_ptr + rm[:, None] * K + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        wt = tl.load(w_ptr + rn[None, :] * K + kk[:, None], mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, wt, input_precision="ieee")
    h = acc + tl.load(b_ptr + rn, mask=rn < N, other=0.0)[None, :]
    s = tl.where(rn[None, :] < N, 1.0 / (1.0 + tl.exp(-h)), 0.0)
    tl.store(out_ptr + rm, tl.sum(s, axis=1), mask=rm < M)


class ModelNew(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.gemm = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        M, K = x.shape
        N = self.gemm.out_features
        out = torch.empty((M, 1), dtype=x.dtype, device=x.device)
        gemm_sigmoid_sum_kernel[(triton.cdiv(M, 16),)](
            x, self.gemm.weight, self.gemm.bias, out, M, N,
            K=K, BLOCK_M=16, BLOCK_N=max(16, triton.next_power_of_2(N)), BLOCK_K=16,
        )
        return out
