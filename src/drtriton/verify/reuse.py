"""Whether a candidate worker may serve another candidate: a snapshot of the process state a candidate
could leave changed for the next one, taken once the worker is warm and compared after each candidate.

Why reuse at all: on a GPU every fresh worker pays a CUDA context, and the driver creates contexts one at
a time while they hold up every other process's driver calls (bench/cuda_context_cost_gpu.py on an H100:
0.14 s alone, 2.3-2.9 s each when 16 start at once; in the pool 4.5 s median per context with 16 workers
busy, and the other workers' IPC opens and allocations slowed with it). A worker that served a candidate
whose run left this snapshot unchanged serves the next one instead of exiting.

What this guards: the next candidate's verdict must not depend on the previous candidate. The snapshot
covers what a candidate could change in this process that later code reads:
- the identity of every attribute of every module loaded (torch and all its submodules, triton, the
  verifier's own modules, the standard library: a monkey-patch, or a stash such as
  `collections.answers = ...` that a later candidate of the same problem, with the same seeded inputs,
  could read back), and of the torch.Tensor, its C base, torch.nn.Module and torch.cuda.Event classes;
- modules added to sys.modules that no import made (no __spec__: a hand-built stash module);
- how many tensors are alive in Python, and live GPU memory (a stash inside an existing container such as
  a module-level list keeps its tensors alive);
- torch's global numerics and modes (default dtype, grad mode, TF32 and cuDNN flags, matmul precision,
  function/dispatch mode stacks, global module hooks), Python's trace and profile hooks, threads, gc
  callbacks, the environment, the working directory, open descriptors other than the GPU driver's, the
  current CUDA stream, and how much of the output cap and CPU budget the worker used.
It is a best-effort check, not a proof: state outside it (a C extension's globals, plain Python values
put into an existing container) is not seen. Static rules forbid the usual ways in (sys, builtins, gc,
importlib, the verifier's own package, attribute assignment on torch/triton/math). A worker whose snapshot
differs is discarded (never a verdict: lazy initialisation inside a library can change an attribute on first
use), and `reuse` in the pool caps how many candidates one worker serves.
"""

from __future__ import annotations

import os
import sys
import threading
import types
import weakref

# candidates one worker serves by default (VerifierPool reuse): on an H100, 8 took a warm pool of 16 workers
# from 62.6 to 144.3 candidates/min (docs/RESULTS.md, issue 4b); past a few the context it saves is paid off
DEFAULT_REUSE = 8

# output the capture file may already hold for the worker to take another candidate (of its cap), and
# CPU seconds it may have used (of RLIMIT_CPU, which counts every candidate it served)
CAPTURE_SHARE = 0.25
CPU_SHARE = 0.25


def _attr_ids(namespace) -> dict[str, int]:
    """name -> id of each attribute the namespace holds itself (vars: no lazy import is triggered)."""
    try:
        items = list(vars(namespace).items())
    except TypeError:  # an object in sys.modules without a __dict__
        return {}
    return {name: id(value) for name, value in items
            if not (name.startswith("__") and name.endswith("__")) or name in ("__call__", "__init__")}


def _namespaces() -> dict[str, object]:
    """Every module loaded (by its sys.modules name) and the classes whose attributes a patch would change."""
    import builtins

    import torch

    spaces: dict[str, object] = {name: module for name, module in list(sys.modules.items())
                                 if issubclass(type(module), types.ModuleType)}
    if os.environ.get("TRITON_INTERPRET") == "1":
        # Triton's interpreter rebinds triton.language's functions (and adds names to them) for every kernel
        # it runs, and leaves them so: watched, no worker would ever be reused on CPU. Assigning triton
        # attributes is a static rule (patch.monkey_patch); a GPU run watches these modules too.
        spaces = {name: m for name, m in spaces.items() if not (name == "triton.language" or name.startswith("triton.language."))}
    spaces["builtins"] = builtins
    spaces.update({"torch.Tensor": torch.Tensor, "torch._C.TensorBase": torch._C.TensorBase,
                   "torch.nn.Module": torch.nn.Module, "torch.cuda.Event": torch.cuda.Event})
    return spaces


def _live_tensors() -> dict[int, weakref.ref]:
    """Tensors alive in Python, by id (gc-tracked objects of a Tensor type; type(), not isinstance: no lazy
    object of a library is asked for its class). Weak references: the snapshot keeps nothing alive."""
    import gc

    import torch

    tensor = torch.Tensor
    return {id(obj): weakref.ref(obj) for obj in gc.get_objects() if issubclass(type(obj), tensor)}


def _describe_tensor(ref: weakref.ref) -> str:
    """shape, dtype, device and what holds it (for a refusal's reason: where did a kept tensor come from?)."""
    import gc

    t = ref()
    if t is None:
        return "(gone)"
    holders = []
    for holder in gc.get_referrers(t):
        if isinstance(holder, types.FrameType):  # this function's own
            continue
        if isinstance(holder, dict):  # a module's or an object's namespace: name the owner if it is one
            owner = next((m.__name__ for m in list(sys.modules.values()) if getattr(m, "__dict__", None) is holder), None)
            holders.append(f"module {owner}" if owner else "dict")
        else:
            holders.append(type(holder).__name__)
        if len(holders) == 2:
            break
    return f"{tuple(t.shape)} {t.dtype} {t.device} held by {', '.join(holders) or '?'}"


def _unimported(spaces: dict[str, object]) -> frozenset[str]:
    """sys.modules entries no import made: modules without a __spec__ (a types.ModuleType built by hand)."""
    return frozenset(name for name, module in spaces.items()
                     if issubclass(type(module), types.ModuleType) and getattr(module, "__spec__", None) is None
                     and name not in ("__main__", "builtins"))


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
        self.module_ids = {name: id(ns) for name, ns in spaces.items()}
        # submodules imported since (a candidate's `import triton.language.extra`, lazy imports inside
        # torch): attributes added to a package that are that package's own submodule, not a patch
        self.submodules = {name: {k for k, v in list(vars(ns).items()) if issubclass(type(v), types.ModuleType)
                                  and v.__name__ == f"{getattr(ns, '__name__', name)}.{k}"}
                           for name, ns in spaces.items() if isinstance(ns, types.ModuleType)}
        self.unimported = _unimported(spaces)
        self.tensors = _live_tensors()
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
            now = later.ids.get(ns)
            if now is None:  # a module gone from sys.modules (the candidate's own): nothing to read back
                continue
            if later.module_ids[ns] != self.module_ids[ns]:
                # Another module under the same name: an import made it (Triton loads each kernel signature's
                # C launcher as `__triton_launcher`), or, with no __spec__, a hand-built one (`unimported`)
                continue
            changed = sorted(k for k in ids.keys() & now.keys() if ids[k] != now[k])
            added = sorted(now.keys() - ids.keys() - later.submodules.get(ns, set()))
            removed = sorted(ids.keys() - now.keys())
            for what, names in (("replaced", changed), ("added", added), ("removed", removed)):
                if names:
                    diffs.append(f"{ns}: {what} {', '.join(names[:5])}")
        stashes = sorted(later.unimported - self.unimported)
        if stashes:
            diffs.append(f"sys.modules: added {', '.join(stashes[:5])} (built by hand, not imported)")
        if len(later.tensors) != len(self.tensors):
            new = [ref for key, ref in later.tensors.items() if key not in self.tensors][:2]
            diffs.append(f"live tensors: {len(self.tensors)} -> {len(later.tensors)}"
                         + (f" (new: {'; '.join(_describe_tensor(r) for r in new)})" if new else ""))
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
