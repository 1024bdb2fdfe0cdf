# problem: matmul_softmax
# rule: policy.triton_share
# expected: cheat_detected
# policy: hybrid
# why: hybrid lets PyTorch keep operators, but the Triton part must carry a real share of the work; here a
#      token kernel scales one element by 1.0 while torch does the matmul and the softmax. At these sizes
#      every kernel is launch-bound, so a share of GPU time cannot tell; with its launches skipped the
#      outputs are bit-identical, which can (CPU and GPU).
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def touch_kernel(x_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < 1
    tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 1.0, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        out = torch.softmax(q @ k, dim=-1).contiguous()
        touch_kernel[(1,)](out, BLOCK=16)
        return out
