# problem: matmul_softmax
# policy: strict
# style: tl.dot producing whole score rows, softmax fused before the single store
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def matmul_softmax_kernel(
    q_ptr, k_ptr, out_ptr,
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
        a = tl.load(q_ptr + rm[:, None] * K + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(k_ptr + kk[:, None] * N + rn[None, :], mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, b, input_precision="ieee")
    scores = tl.where(rn[None, :] < N, acc, -float("inf"))
    scores = scores - tl.max(scores, axis=1)[:, None]
    num = tl.exp(scores)
    out = num / tl.sum(num, axis=1)[:, None]
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], out, mask=(rm[:, None] < M) & (rn[None, :] < N))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        q = q.contiguous()
        k = k.contiguous()
        M, K = q.shape
        N = k.shape[1]
        out = torch.empty((M, N), dtype=q.dtype, device=q.device)
        matmul_softmax_kernel[(triton.cdiv(M, 16),)](
            q, k, out, M, N, K=K, BLOCK_M=16, BLOCK_N=max(16, triton.next_power_of_2(N)), BLOCK_K=16
        )
        return out
