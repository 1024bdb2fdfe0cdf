"""Which kernels does a channels-last convolution call launch? A probe for the input-conversion copies seen in
`conv_profile_gpu.py` (KernelBench L2 4: two ~577 us direct_copy kernels per call where torch.compile has one
724 us conversion). Profiles x.contiguous(channels_last) alone, then F.conv2d on it with the weight in NCHW and
in channels-last, at problem 4's sizes (64 x 64 x 256 x 256 fp32, 128 3x3 filters).

    python3 bench/conv_copy_probe_gpu.py
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F


def kernels(fn, calls: int = 3) -> list[tuple[str, float, float]]:
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        t = getattr(e, "device_time_total", 0.0) or getattr(e, "cuda_time_total", 0.0)
        if t > 0 and e.key != "cudaDeviceSynchronize":
            rows.append((e.key[:100], e.count / calls, t / calls))
    return sorted(rows, key=lambda r: -r[2])


def main() -> int:
    if not torch.cuda.is_available():
        print("needs a GPU", file=sys.stderr)
        return 2
    x = torch.randn(64, 64, 256, 256, device="cuda")
    w = torch.randn(128, 64, 3, 3, device="cuda")
    w_cl = w.contiguous(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    cases = {
        "x.contiguous(channels_last)": lambda: x.contiguous(memory_format=torch.channels_last),
        "conv2d(x_cl, w NCHW)": lambda: F.conv2d(x_cl, w),
        "conv2d(x_cl, w channels-last)": lambda: F.conv2d(x_cl, w_cl),
        "conv2d(x.contiguous(cl), w NCHW)": lambda: F.conv2d(x.contiguous(memory_format=torch.channels_last), w),
    }
    for name, fn in cases.items():
        out = fn()
        print(f"{name}: output strides {tuple(out.stride())}")
        for key, per_call, us in kernels(fn):
            print(f"    {us:9.1f} us/call  x{per_call:.1f}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
