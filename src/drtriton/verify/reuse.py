"""Whether a candidate worker may serve another candidate: a snapshot of the process state a candidate
could leave changed for the next one, taken once the worker is warm and compared after each candidate.

Why reuse at all: on a GPU every fresh worker pays a CUDA context, and the driver creates contexts one at
a time while they hold up every other process's driver calls (bench/cuda_context_cost_gpu.py on an H100:
0.14 s alone, 2.3-2.9 s each when 16 start at once; in the pool 4.5 s median per context with 16 workers
busy, and the other workers' IPC opens and allocations slowed with it). A worker that served a candidate
whose run left this snapshot unchanged serves the next one instead of exiting.

What this guards: the next candidate's verdict must not depend on the previous candidate. The snapshot
covers what a candidate could change in this process that later code reads: the identity of every public
attribute of the torch, torch.cuda, torch.nn.functional, torch.Tensor, torch.nn.Module, triton, time and
builtins namespaces (a monkey-patch), torch's global numerics and modes (default dtype, grad mode, TF32
and cuDNN flags, matmul precision, function/dispatch mode stacks, global module hooks), Python's trace and
profile hooks, threads, gc callbacks, the environment, the working directory, open descriptors other
than the GPU driver's, live GPU memory and the current CUDA stream, and how much of the output cap the
capture file used. It is a
best-effort check, not a proof: state outside it (e.g. a C extension's globals, a module attribute deep
inside torch) is not seen. A worker whose snapshot differs is discarded (never a verdict: lazy
initialisation inside torch can change an attribute on first use), and `reuse` in the pool caps how many
candidates one worker serves.
"""

from __future__ import annotations

import os
import sys
import threading
import types

# output the capture file may already hold for the worker to take another candidate (of its cap), and
# CPU seconds it may have used (of RLIMIT_CPU, which counts every candidate it served)
CAPTURE_SHARE = 0.25
CPU_SHARE = 0.25


def _attr_ids(namespace) -> dict[str, int]:
    """name -> id of each attribute the namespace holds itself (vars: no lazy import is triggered)."""
    return {name: id(value) for name, value in list(vars(namespace).items())
            if not (name.startswith("__") and name.endswith("__")) or name in ("__call__", "__init__")}


def _namespaces() -> dict[str, object]:
    import builtins
    import time

    import torch
    import torch.nn.functional as F
    import triton
    import triton.language as tl

    return {"torch": torch, "torch.cuda": torch.cuda, "torch.nn.functional": F, "torch.Tensor": torch.Tensor,
            "torch.nn.Module": torch.nn.Module, "torch._C.TensorBase": torch._C.TensorBase, "torch.cuda.Event": torch.cuda.Event, "triton": triton,
            "triton.language": tl, "time": time, "builtins": builtins}


def _torch_state(device: str) -> dict:
    import torch
    from torch.nn.modules import module as nn_module

    state = {
        "default_dtype": str(torch.get_default_dtype()),
        "grad_enabled": torch.is_grad_enabled(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "num_threads": torch.get_num_threads(),
        "matmul_precision": torch.get_float32_matmul_precision(),
        "cuda_matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cuda_fp16_reduced": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
        "cudnn": (torch.backends.cudnn.enabled, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
                  torch.backends.cudnn.deterministic),
        "function_modes": getattr(torch._C, "_len_torch_function_stack", lambda: None)(),
        "dispatch_modes": getattr(torch._C, "_len_torch_dispatch_stack", lambda: None)(),
        "global_module_hooks": tuple(len(getattr(nn_module, name, {})) for name in (
            "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
            "_global_backward_pre_hooks", "_global_module_registration_hooks",
            "_global_parameter_registration_hooks", "_global_buffer_registration_hooks")),
    }
    if device.startswith("cuda"):
        state["cuda_stream"] = torch.cuda.current_stream(device).cuda_stream
        state["cuda_device"] = torch.cuda.current_device()
    return state


def _fds() -> frozenset[str]:
    """What this process's descriptors point to, leaving out the GPU driver's own (device files and anonymous
    inodes it opens as it goes: on an H100 every candidate's run added some, so every worker was retired)."""
    out = set()
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # not Linux: no descriptor check
        return frozenset()
    for name in names:
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if not target.startswith(("/dev/", "anon_inode:")):
            out.add(f"{name}->{target}")
    return frozenset(out)


class ProcessState:
    """One snapshot of this worker's process state (see the module docstring)."""

    def __init__(self, device: str) -> None:
        import gc

        import torch

        self.device = device
        spaces = _namespaces()
        self.ids = {name: _attr_ids(ns) for name, ns in spaces.items()}
        # submodules imported since (a candidate's `import triton.language.extra`, lazy imports inside
        # torch): attributes added to a package that are that package's own submodule, not a patch
        self.submodules = {name: {k for k, v in vars(ns).items() if isinstance(v, types.ModuleType)
                                  and v.__name__ == f"{getattr(ns, '__name__', name)}.{k}"}
                           for name, ns in spaces.items() if isinstance(ns, types.ModuleType)}
        self.torch = _torch_state(device)
        self.hooks = (sys.gettrace(), sys.getprofile(), getattr(threading, "_trace_hook", None),
                      getattr(threading, "_profile_hook", None), sys.excepthook, sys.unraisablehook,
                      tuple(sys.meta_path), tuple(sys.path_hooks))
        self.threads = frozenset(t.ident for t in threading.enumerate())
        self.gc = (gc.isenabled(), len(gc.callbacks))
        self.environ = dict(os.environ)
        self.cwd = os.getcwd()
        self.fds = _fds()
        self.gpu_bytes = torch.cuda.memory_allocated(device) if device.startswith("cuda") else 0

    def differences(self, later: ProcessState, slack_bytes: int = 1 << 20) -> list[str]:
        """What `later` (taken after a candidate, its objects released) changed; empty: reusable."""
        diffs = []
        for ns, ids in self.ids.items():
            now = later.ids[ns]
            changed = sorted(k for k in ids.keys() & now.keys() if ids[k] != now[k])
            added = sorted(now.keys() - ids.keys() - later.submodules.get(ns, set()))
            removed = sorted(ids.keys() - now.keys())
            for what, names in (("replaced", changed), ("added", added), ("removed", removed)):
                if names:
                    diffs.append(f"{ns}: {what} {', '.join(names[:5])}")
        for key, value in self.torch.items():
            if later.torch.get(key) != value:
                diffs.append(f"torch state {key}: {value!r} -> {later.torch.get(key)!r}")
        if later.hooks != self.hooks:
            diffs.append("interpreter hooks (trace, profile, excepthook, import hooks) changed")
        if later.threads != self.threads:
            diffs.append(f"threads: {len(self.threads)} -> {len(later.threads)}")
        if later.gc != self.gc:
            diffs.append(f"gc (enabled, callbacks): {self.gc} -> {later.gc}")
        if later.environ != self.environ:
            diffs.append("environment variables changed")
        if later.cwd != self.cwd:
            diffs.append("working directory changed")
        if later.fds != self.fds:
            new = sorted(later.fds - self.fds)[:2]
            diffs.append(f"open file descriptors: {len(self.fds)} -> {len(later.fds)} (new: {', '.join(new) or '-'})")
        if later.gpu_bytes > self.gpu_bytes + slack_bytes:
            diffs.append(f"live GPU memory grew by {(later.gpu_bytes - self.gpu_bytes) >> 10} KiB")
        return diffs


def limits_used(output_cap_mb: float, cpu_limit_s: float) -> list[str]:
    """Why this worker's process-wide limits leave too little for another candidate: the capture file (its
    stderr, capped at `output_cap_mb`) or the CPU seconds used (RLIMIT_CPU, `cpu_limit_s`) past their share."""
    import resource

    out = []
    try:
        used = os.fstat(2).st_size
    except OSError:
        used = 0
    if output_cap_mb > 0 and used > CAPTURE_SHARE * output_cap_mb * (1 << 20):
        out.append(f"capture file holds {used >> 10} KiB of the {output_cap_mb:g} MB cap")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = usage.ru_utime + usage.ru_stime
    if cpu_s > CPU_SHARE * cpu_limit_s:
        out.append(f"CPU time {cpu_s:.0f} s of the {cpu_limit_s:g} s limit")
    return out
