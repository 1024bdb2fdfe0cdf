# problem: residual_mlp_block
# policy: strict
# style: two launches of one GEMM kernel with constexpr-selected epilogues (bias+ReLU, then bias+residual)
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def linear_epilogue_kernel(
    x_ptr, w_ptr, b_ptr, res_ptr, out_ptr,   # out = epilogue(x @ w^T + b); res read only if ADD_RESIDUAL
    M, N,
    K: tl.constexpr,
    RELU: tl.constexpr, ADD_RESIDUAL: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        kk = k + rk
        a = tl.load(x_ptr + rm[:, None] * K + kk[None, :], mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        wt = tl.load(w_ptr + rn[None, :] * K + kk[:, None], mask=(kk[:, None] < K) & (rn[None, :] < N), other=0.0)
        acc += tl.dot(a, wt, input_precision="ieee")
    out_mask = (rm[:, None] < M) & (rn[None, :] < N)
    acc += tl.load(b_ptr + rn, mask=rn < N, other=0.0)[None, :]
    if RELU:
        acc = tl.maximum(acc, 0.0)
    if ADD_RESIDUAL:
        acc += tl.load(res_ptr + rm[:, None] * N + rn[None, :], mask=out_mask, other=0.0)
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], acc, mask=out_mask)


def _linear(x, layer, relu, residual=None):
    M, K = x.shape
    N = layer.out_features
    out = torch.empty((M, N), dtype=x.dtype, device=x.device)
    grid = (triton.cdiv(M, 16), triton.cdiv(N, 16))
    linear_epilogue_kernel[grid](x, layer.weight, layer.bias, residual if residual is not None else x, out, M, N,
                                 K=K, RELU=relu, ADD_RESIDUAL=residual is not None,
                                 BLOCK_M=16, BLOCK_N=16, BLOCK_K=16)
    return out


class ModelNew(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.fc1 = nn.Linear(hidden, inner)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        h = _linear(x, self.fc1, relu=True)
        return _linear(h, self.fc2, relu=False, residual=x)
