"""A stand-in for Triton's compiled-kernel launcher, for CPU tests of the generated `_Launcher` fast path
and of the verifier's launcher-hook counting (tests/frontend/test_fast_launch.py).

It takes the arguments Triton 3.6's C launcher takes (CompiledKernel.run), calls the enter/exit hook
chains around the "launch" as the C launcher does, and runs a torch function in place of the kernel. The
verifier counts a launch only when the launcher's caller lives in Triton; tests point `launcher_dirs` at
this file, so calls from here stand for Triton's own launcher.
"""

from __future__ import annotations


class FakeCompiled:
    """What kernel[grid](...) returns on a GPU: a compiled kernel with its launcher."""

    def __init__(self, name: str, body) -> None:  # body(*pointer_and_constexpr_args): the kernel's work
        self.name = name
        self.body = body
        self.function = 0xF00D  # the CUfunction handle
        self.packed_metadata = (4, 1, 0)
        self.launches: list[tuple] = []  # (grid, stream, n_args) per launcher call

    def launch_metadata(self, grid, stream, *args):
        return _LazyDict({"name": self.name, "function": self.function, "stream": stream})

    @property
    def run(self):
        return self._launch

    def _launch(self, gx, gy, gz, stream, function, packed_metadata, meta, enter, leave, *args):
        assert function == self.function and packed_metadata == self.packed_metadata
        if enter is not None:
            enter(meta)
        self.body(*args)
        self.launches.append(((gx, gy, gz), stream, len(args)))
        if leave is not None:
            leave(meta)


class FakeJit:
    """A @triton.jit kernel on a GPU (JITFunction): kernel[grid](*args, **kw) is run(*args, grid=grid,
    warmup=False, **kw), which launches through the compiled kernel's launcher and returns it."""

    def __init__(self, compiled: FakeCompiled, constexpr_names: list[str]) -> None:
        self.compiled = compiled
        self.constexpr_names = constexpr_names
        self.calls = 0
        self.fn = _named(compiled.name)

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.run(*args, grid=grid, warmup=False, **kwargs)

    def run(self, *ptrs, grid, warmup, **kwargs):
        import triton

        self.calls += 1
        grid3 = (tuple(grid) + (1, 1))[:3]
        args = ptrs + tuple(kwargs[n] for n in self.constexpr_names)
        k = triton.knobs.runtime
        self.compiled.run(*grid3, 0, self.compiled.function, self.compiled.packed_metadata,
                          self.compiled.launch_metadata(grid, 0, *args), k.launch_enter_hook,
                          k.launch_exit_hook, *args)
        return self.compiled


def _named(name: str):
    def fn():
        pass

    fn.__name__ = name
    return fn


class FakeDriver:
    """triton.runtime.driver.active on a GPU, as far as the fast path uses it."""

    def __init__(self) -> None:
        self.streams: list[int] = []

    def get_current_stream(self, device: int) -> int:
        self.streams.append(device)
        return 7


class _LazyDict:
    def __init__(self, data: dict) -> None:
        self.data = data
