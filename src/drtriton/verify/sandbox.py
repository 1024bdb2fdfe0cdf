"""In-worker guards around candidate code: resource limits, output capture, audit hook, fork trap,
Triton launch counting and the torch op log with poisoned fresh allocations.

Runs only inside `python -m drtriton.verify.worker`, never in the caller's process.
Covered: fork (os.fork and friends, child killed at once), subprocess/system/exec/spawn, sockets,
ctypes, env changes, file opens, exec/compile, gc scraping, from candidate frames; address space
(CPU), CPU seconds, output file size. Not covered: raw syscalls from C extensions the candidate loads
some other way, os._exit (seen by the parent as a crash), and work a C extension hides from the
dispatcher. See docs/VERIFIER.md.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import sys
import sysconfig
from collections import Counter

# ---- op classes for the policies (aten overload packet names) ----
ALLOC_LAYOUT_OPS = frozenset(
    {
        "empty",
        "empty_like",
        "empty_strided",
        "new_empty",
        "new_empty_strided",
        "zeros",
        "zeros_like",
        "new_zeros",
        "ones",
        "ones_like",
        "new_ones",
        "full",
        "full_like",
        "new_full",
        "arange",
        "scalar_tensor",
        "view",
        "_unsafe_view",
        "reshape",
        "_reshape_alias",
        "permute",
        "transpose",
        "t",
        "expand",
        "expand_as",
        "contiguous",
        "clone",
        "copy_",
        "_to_copy",
        "to",
        "squeeze",
        "unsqueeze",
        "flatten",
        "unflatten",
        "as_strided",
        "slice",
        "select",
        "narrow",
        "split",
        "split_with_sizes",
        "chunk",
        "unbind",
        "detach",
        "alias",
        "lift_fresh",
        "lift_fresh_copy",
        "cat",
        "stack",
        "view_as",
        "movedim",
        "fill_",
        "zero_",
        "resize_",
        "set_",
        "_local_scalar_dense",
        "sym_size",
        "sym_stride",
        "sym_numel",
        "is_same_size",
        "_has_compatible_shallow_copy_type",
        "item",
        "size",
        "stride",
        "numel",
        "dim",
        "new_tensor",
    }
)
LIBRARY_OPS = frozenset(
    {
        "convolution",
        "_convolution",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "mkldnn_convolution",
        "cudnn_convolution",
        "cudnn_convolution_transpose",
        "convolution_overrideable",
        "_slow_conv2d_forward",
        "slow_conv3d_forward",
        "slow_conv_transpose2d",
        "slow_conv_transpose3d",
        "_nnpack_spatial_convolution",
        "mm",
        "addmm",
        "bmm",
        "baddbmm",
        "matmul",
        "linear",
        "addbmm",
        "addmv",
        "mv",
        "_addmm_activation",
        "dot",
        "_mkldnn_convolution",
        "mkldnn_convolution_transpose",
    }
)


def policy_violations(ops: dict[str, int], policy: str) -> list[str]:
    """aten ops that the policy does not allow in ModelNew.forward (hybrid allows everything)."""
    if policy == "hybrid":
        return []
    allowed = ALLOC_LAYOUT_OPS | (LIBRARY_OPS if policy == "mixed" else frozenset())
    return sorted(op for op in ops if op not in allowed)


# ---- resource limits and output capture ----
def apply_limits(memory_mb: int, cpu_s: int, output_cap_mb: int, limit_address_space: bool) -> None:
    if limit_address_space:  # CUDA reserves terabytes of address space: only on CPU workers
        cap = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    fsize = output_cap_mb << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the cap fail with EFBIG, not a kill
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---- audit hook: what candidate frames may not do ----
class SandboxViolation(BaseException):  # BaseException: `except Exception` in candidate code can't eat it
    pass


_STDLIB = sysconfig.get_paths()["stdlib"]
_ANY_FRAME_EVENTS = ("os.fork", "os.forkpty", "socket.")
_FIRST_FRAME_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.putenv",
    "os.unsetenv",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "ctypes.",
    "open",
    "os.remove",
    "os.rename",
    "os.unlink",
    "os.chdir",
    "os.mkdir",
    "os.rmdir",
    "shutil.",
    "exec",
    "compile",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "sys._getframe",
    "sys.settrace",
    "sys.setprofile",
    "signal.",
    "os.chmod",
    "os.truncate",
    "mmap.",
    "urllib.",
    "marshal.",
    "pickle.find_class",
    "sys.addaudithook",
    "cpython.PyInterpreterState_Clear",
    "os.listdir",
    "os.scandir",
    "glob.glob",
    "import",
)


class Guard:
    """Process-wide audit hook; active only while candidate code runs (module exec, init, forward)."""

    def __init__(self, candidate_path: str) -> None:
        self._kinds: dict[str, str] = {}  # co_filename -> frame kind (realpath costs syscalls per call)
        self.candidate_path = candidate_path
        self.active = False  # audit enforcement on (candidate code running, rule not disabled)
        self.in_candidate = False  # candidate code running at all: forks are always trapped
        self.violations: list[str] = []
        self.forks = 0
        self._in_hook = False

    @property
    def candidate_path(self) -> str:
        return self._candidate_path

    @candidate_path.setter
    def candidate_path(self, path: str) -> None:
        self._candidate_path = os.path.realpath(path)
        self._kinds.clear()

    def install(self) -> None:
        sys.addaudithook(self._hook)
        os.register_at_fork(before=self._before_fork, after_in_child=self._after_fork_in_child)

    def _before_fork(self) -> None:
        if self.in_candidate:
            self.forks += 1
            self.violations.append("candidate called os.fork (child killed)")

    def _after_fork_in_child(self) -> None:
        if self.in_candidate:
            os._exit(0)  # a forked candidate child must never touch the protocol pipe

    def _frame_kind(self, filename: str) -> str:
        if filename.startswith("<frozen importlib"):
            # The import system itself (reading sources, writing __pycache__ for triton submodules on a
            # fresh install): imports are policed by the "import" event, not by the files they touch.
            return "library"
        if filename.startswith("<frozen"):
            return "stdlib"
        if filename.startswith("<"):
            return "candidate"  # exec'd strings come from candidate code here
        kind = self._kinds.get(filename)
        if kind is None:
            # Cached: Triton's launch hook (LaunchCounter) calls sys._getframe on every launch, an event
            # walked here; resolving the path each time cost ~50 us per launch on an H100 host, which
            # made every timed sample of a microsecond kernel host-bound (5-60x its do_bench time).
            real = os.path.realpath(filename)
            if real == self._candidate_path:
                kind = "candidate"
            elif real.startswith(_STDLIB) and "-packages" not in real:
                kind = "stdlib"
            else:
                kind = "library"
            self._kinds[filename] = kind
        return kind

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active or self._in_hook:
            return
        self._in_hook = True
        try:
            self._check(event, args)
        finally:
            self._in_hook = False

    def _check(self, event: str, args: tuple) -> None:
        any_frame = event.startswith(_ANY_FRAME_EVENTS)
        if not any_frame and not event.startswith(_FIRST_FRAME_EVENTS):
            return
        if event == "import" and (not args or str(args[0]).split(".")[0] not in _FORBIDDEN_RUNTIME_IMPORTS):
            return
        frame = sys._getframe(2)  # skip _hook
        while frame is not None:
            kind = self._frame_kind(frame.f_code.co_filename)
            if kind == "candidate":
                what = f"{event}{_short(args)} from candidate code (line {frame.f_lineno})"
                self.violations.append(what)
                raise SandboxViolation(what)
            if kind == "library" and not any_frame:
                return  # torch/triton doing their own work (e.g. Triton compiling its launcher)
            frame = frame.f_back


_FORBIDDEN_RUNTIME_IMPORTS = {
    "os",
    "subprocess",
    "ctypes",
    "socket",
    "gc",
    "inspect",
    "importlib",
    "threading",
    "multiprocessing",
    "time",
    "signal",
    "shutil",
    "pathlib",
}


def _short(args: tuple) -> str:
    text = repr(args[:2]) if args else ""
    return f" {text[:80]}" if text else ""


# ---- Triton launch counting ----
class LaunchCounter:
    """Counts real Triton launches (compiled or interpreted) and marks when one is in flight.

    Two places count, and a launch is counted once:
    - Triton's launcher hook (`triton.knobs.runtime.launch_exit_hook`, compiled kernels on a GPU): the C
      launcher calls it after the launch went through, whether it came from JITFunction.run or from a
      direct relaunch of the CompiledKernel (the generated ModelNew relaunches that way; it skips
      JITFunction.run's per-call host work). It counts only when the Python frame that called the
      launcher is Triton's own code (`launcher_dirs`): candidate code calling the hook chain directly
      launches nothing and is not counted.
    - the JITFunction.run / InterpretedFunction.run wrap: counts a call during which the hook counted
      nothing (the interpreter, a Triton without launcher hooks), so a JIT launch on a GPU is not counted
      twice. It also keeps `in_launch` raised while the call runs (compile, the interpreter's host copies).
    The hook does not touch `in_launch`: nothing between the launcher's enter and exit hooks dispatches aten
    ops, and a launch that fails after the enter hook would leave the op log blind for good.
    """

    def __init__(self, launcher_dirs: tuple[str, ...] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.in_launch = 0
        self.compile_errors: list[str] = []
        self.hooked = 0  # launches counted by the launcher hook
        self._launcher_dirs = launcher_dirs
        self._chain_file = ""  # co_filename of HookChain.__call__, skipped when looking for the caller
        self._is_launcher_file: dict[str, bool] = {}  # co_filename -> inside launcher_dirs (realpath is slow)
        self._undo: list = []  # how to take install() back (tests)
        self.suppress = False  # inside suppressed(): Triton launches are skipped, not run (ablation)

    def install(self) -> None:
        from triton.runtime import jit as jit_mod

        self._wrap(jit_mod.JITFunction)
        self._hook_launcher()
        try:
            from triton.runtime.interpreter import InterpretedFunction
        except ImportError:  # a Triton without the interpreter
            return
        self._wrap(InterpretedFunction)

    def _hook_launcher(self) -> None:
        import triton

        chain = getattr(getattr(getattr(triton, "knobs", None), "runtime", None), "launch_exit_hook", None)
        if not hasattr(chain, "add"):  # Triton before 3.4 has no hook chain: the run wrap counts alone
            return
        call = type(chain).__call__
        self._chain_file = call.__code__.co_filename if hasattr(call, "__code__") else ""
        if self._launcher_dirs is None:
            self._launcher_dirs = (os.path.dirname(os.path.realpath(triton.__file__)) + os.sep,)
        chain.add(self.on_launch_exit)
        self._undo.append(lambda: chain.remove(self.on_launch_exit))

    def on_launch_exit(self, metadata) -> None:
        """Triton's launch_exit_hook: the C launcher calls it after a kernel launched."""
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == self._chain_file:
            frame = frame.f_back  # HookChain.__call__
        if frame is None or not self._launcher_file(frame.f_code.co_filename):
            return  # not called by a launcher: nothing was launched
        data = getattr(metadata, "data", None)
        name = data.get("name") if isinstance(data, dict) else None
        self.hooked += 1
        self.counts[name or "kernel"] += 1

    def _launcher_file(self, filename: str) -> bool:
        known = self._is_launcher_file.get(filename)
        if known is None:
            known = os.path.realpath(filename).startswith(self._launcher_dirs or ())
            self._is_launcher_file[filename] = known
        return known

    @contextlib.contextmanager
    def suppressed(self):
        """Triton launches inside are skipped (the kernels compile, nothing runs), for the hybrid policy's
        ablation check (worker.CandidateRun.triton_effect): interpreted kernels return at the run wrap;
        compiled ones at the launcher class's __call__, which every launch path goes through (JITFunction.run,
        CompiledKernel[grid], a cached `compiled.run`). A launch that still reaches the launcher hook (a
        path around both) is counted, and the caller treats the check as inconclusive."""
        launcher_cls = _launcher_class()
        original = launcher_cls.__dict__.get("__call__") if launcher_cls is not None else None
        if original is not None:
            launcher_cls.__call__ = lambda self, *args, **kwargs: None
        self.suppress = True
        try:
            yield
        finally:
            self.suppress = False
            if original is not None:
                launcher_cls.__call__ = original

    def _wrap(self, cls: type) -> None:
        original = cls.run
        counter = self
        interpreted = cls.__name__ == "InterpretedFunction"

        def run(self, *args, **kwargs):  # noqa: ANN001 - mirrors Triton's signature
            if kwargs.get("warmup"):
                return original(self, *args, **kwargs)
            if counter.suppress:  # ablation (suppressed): the interpreter's run returns nothing a caller could
                # use either; a compiled kernel compiles and is looked up as usual, its launcher skips the launch
                return None if interpreted else original(self, *args, **kwargs)
            counter.in_launch += 1
            hooked = counter.hooked
            try:
                result = original(self, *args, **kwargs)
            finally:
                counter.in_launch -= 1
            if counter.hooked == hooked:  # the launcher hook did not count this launch
                counter.counts[getattr(self.fn, "__name__", "kernel")] += 1
            return result

        run.__wrapped__ = original
        cls.run = run
        self._undo.append(lambda: setattr(cls, "run", original))

    def uninstall(self) -> None:
        """Takes install() back (the worker never does; tests that install in their own process do)."""
        while self._undo:
            self._undo.pop()()

    def total(self) -> int:
        return sum(self.counts.values())


def _launcher_class():
    """The active GPU driver's launcher class (its instances run compiled kernels), or None: the
    interpreter, no GPU, or a Triton without one."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        from triton.runtime import driver

        cls = getattr(driver.active, "launcher_cls", None)
    except Exception:  # noqa: BLE001 - no driver: nothing compiled can launch either
        return None
    return cls if isinstance(cls, type) else None


# ---- op log + poison ----
def make_op_log(launches: LaunchCounter, poison: bool):
    """A TorchDispatchMode that logs aten ops outside Triton launches and NaN-fills fresh allocations."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    fresh = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}

    class OpLog(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: Counter[str] = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if launches.in_launch:
                return out  # the interpreter's own host copies are not the candidate's torch ops
            name = func.overloadpacket.__name__
            self.ops[name] += 1
            if poison and name in fresh and isinstance(out, torch.Tensor) and out.numel():
                if out.is_floating_point() or out.is_complex():
                    out.fill_(math.nan)
                elif out.dtype == torch.bool:
                    out.fill_(True)
                else:
                    out.fill_(torch.iinfo(out.dtype).max // 3 + 7)
            return out

    return OpLog()
