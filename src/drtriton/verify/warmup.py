"""One-time process costs paid while a worker waits as a spare, not inside a candidate's first call.

Profiling the verifier on an H100 host (`DRT_WORKER_PROFILE`, bench/verifier_gpu.py --part b) showed that
a candidate's first call spent ~6 of its ~8.5 s not compiling its kernels but importing: the first aten
op dispatched under the op log (a TorchDispatchMode) lazily imports torch._higher_order_ops, torch._dynamo
and sympy (~800 modules; seconds where the interpreter cannot write bytecode caches), and the first
Triton launch in a process loads Triton's compiler backend, driver utilities and launcher (~0.7-2 s,
against ~0.08 s for each later distinct kernel; bench/triton_compile_cost_gpu.py). Both are the same for
every candidate, so the zygote does the import part once before forking and each worker does the rest
before it says it is ready.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _warm_kernel(p_x, p_y, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    tl.store(p_y + offs, tl.load(p_x + offs, mask=mask, other=0.0) * 2.0, mask=mask)


def settle_lazy_state() -> None:
    """Module state the standard library creates on first use, created now, before a reused worker's
    snapshot (reuse.py): on an H100 every worker's first Triton compile (ptxas in a temporary directory)
    set tempfile.tempdir and tempfile._name_sequence, and every worker was retired for it."""
    import tempfile

    tempfile.gettempdir()
    next(tempfile._get_candidate_names())


def warm_op_log() -> None:
    """Dispatch one aten op under the op log: its lazy imports happen here (safe before fork: no CUDA)."""
    import torch

    settle_lazy_state()
    from drtriton.verify.sandbox import LaunchCounter, make_op_log

    with make_op_log(LaunchCounter(), poison=True):  # a counter never installed: no launch in flight
        torch.empty(4).add_(1)


def warm_triton(device: str) -> None:
    """Launch one small Triton kernel on `device` (a GPU: compile or cache load, driver, launcher)."""
    import torch

    if device == "cpu":
        return  # the interpreter has no per-process compile or launcher cost worth paying ahead
    x = torch.ones(256, device=device)
    y = torch.empty_like(x)
    _warm_kernel[(2,)](x, y, x.numel(), BLOCK=128)
    torch.cuda.synchronize(device)
    if not bool((y == 2.0).all()):
        raise RuntimeError("the verifier's Triton warm-up kernel computed a wrong value on this device")
    warm_libraries(device)


def warm_libraries(device: str) -> None:
    """The first matmul in a process creates cuBLAS/cuBLASLt handles and a workspace that torch's caching
    allocator keeps for good (32 MiB on an H100): done inside a candidate's run (its eager baseline, a
    library matmul) it read as live GPU memory that grew, and retired reused workers (reuse.py). Done here,
    once, before the snapshot. A tiny convolution does the same for cuDNN's handle."""
    import torch

    a = torch.ones(16, 16, device=device)
    b = torch.ones(4, 16, 16, device=device)
    torch.mm(a, a)
    torch.addmm(a[0], a, a)  # cuBLASLt (a bias epilogue)
    torch.bmm(b, b)
    torch.nn.functional.conv2d(torch.ones(1, 2, 8, 8, device=device), torch.ones(2, 2, 3, 3, device=device))
    torch.cuda.synchronize(device)


def start_up(device: str, quiet, create_context=None, warm=None) -> dict[str, float]:
    """A worker's start-up on `device`: its CUDA context, then `warm_triton`. Returns its seconds
    (context_s, warm_triton_s; on a GPU lock, section_s and section_wait_s: how long its warm-up held a
    shared section and waited to enter it).

    The context's creation (hundreds of ms to seconds of driver work on a loaded host, almost no SM time)
    runs outside any section of `quiet` (a gpu_quiet.GpuQuiet): a timer never waits for it. Only the
    warm-up, which launches real kernels, runs in a shared section, as any other worker's GPU work (its
    Triton compile steps out of it, gpu_quiet.release_during_triton_compiles). `create_context` and `warm`
    stand in for the CUDA and Triton calls in tests."""
    import time

    if create_context is None:

        def create_context() -> None:
            import torch

            torch.empty(1, device=device)  # creates the context; launches no kernel

    warm = warm_triton if warm is None else warm
    startup: dict[str, float] = {}
    held0, waited0 = quiet.held_s, quiet.waited_s
    if device.startswith("cuda"):
        t0 = time.perf_counter()
        create_context()
        startup["context_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with quiet.shared():
        warm(device)
    startup["warm_triton_s"] = time.perf_counter() - t0
    if quiet.path:  # how long this start-up held every timer off (its Triton compile not counted)
        startup["section_s"] = quiet.held_s - held0
        startup["section_wait_s"] = quiet.waited_s - waited0
    return startup
