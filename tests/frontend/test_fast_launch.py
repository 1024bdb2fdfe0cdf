"""The generated ModelNew's launch path (`_Launcher`: JIT on the first call, direct relaunch of the compiled
kernel after) and the verifier's launch counting (verify/sandbox.py LaunchCounter) on both paths.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest -q tests/frontend/test_fast_launch.py

CPU: the interpreter path for real, the GPU fast path with a fake compiled kernel and launcher
(tests/frontend/fake_launcher.py). The real GPU path: `pytest -m gpu` here (and bench/codegen_gpu.py).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from pathlib import Path

import fake_launcher
import pytest
import torch
import triton

from drtriton.frontend import CompileConfig, compile_problem
from drtriton.verify.sandbox import LaunchCounter, make_op_log

TWO_KERNELS = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        y = torch.relu(x)
        return y, torch.softmax(y * 2.0, dim=1)


def get_inputs():
    return [torch.randn(7, 45)]


def get_init_inputs():
    return []
'''
RELU = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
_FILES = itertools.count()


def _load(src: str, tmp_path: Path):
    # A real file: Triton's @jit reads kernel source with inspect.
    path = tmp_path / f"solution_{next(_FILES)}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def counter():
    launches = LaunchCounter(launcher_dirs=(os.path.realpath(fake_launcher.__file__),))
    launches.install()
    launches._wrap(fake_launcher.FakeJit)  # as JITFunction.run is wrapped: a JIT launch must count once
    yield launches
    launches.uninstall()


def test_generated_file_declares_launch_sites_with_precomputed_grids():
    src = compile_problem(RELU, CompileConfig()).source
    assert src.count("class _Launcher") == 1
    # relu over 19 x 71 = 1349 elements, BLOCK 1024: two programs, computed at generation time.
    assert "k0_relu_launch = _Launcher(k0_relu, grid=(2,), constexprs=dict(N=1349, BLOCK=1024)" in src
    forward = src[src.index("def forward"):]
    assert "k0_relu_launch(v0, v1)" in forward
    assert "triton.cdiv" not in forward and "[(" not in forward


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1", reason="interpreter path (CPU CI tier)")
def test_interpreter_counts_every_launch_once(tmp_path, counter):
    src = compile_problem(TWO_KERNELS, CompileConfig()).source
    module = _load(src, tmp_path)
    names = [line.split()[0] for line in src.splitlines() if " = _Launcher(" in line and line[0] != " "]
    assert len(names) == 2, src
    model = module.ModelNew()
    x = torch.randn(7, 45)
    for call in range(1, 4):
        log = make_op_log(counter, poison=True)
        with torch.no_grad(), log:
            _, s = model(x)
        torch.testing.assert_close(s, torch.softmax(torch.relu(x) * 2.0, dim=1), atol=1e-5, rtol=1e-5)
        assert counter.total() == 2 * call
        assert counter.in_launch == 0
        assert set(log.ops) <= {"empty", "new_empty", "contiguous", "clone"}, log.ops  # the interpreter's copies not logged
    assert sorted(counter.counts) == sorted(n.removesuffix("_launch") for n in names)
    assert all(getattr(module, n).compiled is None for n in names)  # no compiled kernel: always the JIT


def _fake_gpu(module, name: str):
    compiled = fake_launcher.FakeCompiled(name, lambda x, out, n, block: out.copy_(torch.relu(x)))
    jit = fake_launcher.FakeJit(compiled, ["N", "BLOCK"])
    getattr(module, name + "_launch").kernel = jit
    return jit, compiled


@pytest.fixture
def fake_driver():
    saved = triton.runtime.driver._active
    driver = fake_launcher.FakeDriver()
    triton.runtime.driver.set_active(driver)
    yield driver
    triton.runtime.driver._active = saved


def test_compiled_kernel_is_relaunched_directly_and_counted(tmp_path, counter, fake_driver):
    module = _load(compile_problem(RELU, CompileConfig()).source, tmp_path)
    jit, compiled = _fake_gpu(module, "k0_relu")
    model = module.ModelNew()
    for call in range(1, 5):
        x = torch.randn(19, 71)
        out = model(x)
        torch.testing.assert_close(out, torch.relu(x))
        assert counter.total() == call and counter.counts["k0_relu"] == call
    assert jit.calls == 1  # only the first call went through the JIT
    # Every launch: the precomputed grid, the current stream of the input's device, 2 pointers + 2 constexprs.
    assert compiled.launches == [((2, 1, 1), 0, 4)] + [((2, 1, 1), 7, 4)] * 3
    assert fake_driver.streams == [-1] * 3  # CPU tensors in this test: device -1


def test_a_change_of_specialization_goes_back_through_the_jit(tmp_path, counter, fake_driver):
    module = _load(compile_problem(RELU, CompileConfig()).source, tmp_path)
    jit, _ = _fake_gpu(module, "k0_relu")
    model = module.ModelNew()
    model(torch.randn(19, 71))
    assert jit.calls == 1
    # A pointer 4 bytes past a 16-byte boundary: Triton would pick a kernel without the alignment hint.
    unaligned = torch.randn(19 * 71 + 1)[1:].view(19, 71)
    torch.testing.assert_close(model(unaligned), torch.relu(unaligned))
    assert jit.calls == 2
    model(unaligned)
    assert jit.calls == 2  # the unaligned specialization is now the cached one
    model(torch.randn(19, 71))
    assert jit.calls == 3
    model(torch.randn(19, 71, dtype=torch.float64))  # another dtype
    assert jit.calls == 4
    assert counter.total() == 5


def test_fast_path_can_be_switched_off(tmp_path, counter, fake_driver):
    module = _load(compile_problem(RELU, CompileConfig()).source, tmp_path)
    jit, _ = _fake_gpu(module, "k0_relu")
    module.k0_relu_launch.fast = False
    model = module.ModelNew()
    for _ in range(3):
        model(torch.randn(19, 71))
    assert jit.calls == 3 and counter.total() == 3


def test_hook_called_outside_a_launcher_counts_nothing(counter):
    # Candidate code calling Triton's hook chain itself launches nothing.
    meta = fake_launcher._LazyDict({"name": "k0_relu"})
    triton.knobs.runtime.launch_enter_hook(meta)
    triton.knobs.runtime.launch_exit_hook(meta)
    counter.on_launch_exit(meta)
    assert counter.total() == 0 and counter.hooked == 0


def test_uninstall_restores_triton():
    run, n_hooks = triton.runtime.jit.JITFunction.run, len(triton.knobs.runtime.launch_exit_hook.calls)
    launches = LaunchCounter()
    launches.install()
    assert triton.runtime.jit.JITFunction.run is not run
    assert len(triton.knobs.runtime.launch_exit_hook.calls) == n_hooks + 1
    launches.uninstall()
    assert triton.runtime.jit.JITFunction.run is run
    assert len(triton.knobs.runtime.launch_exit_hook.calls) == n_hooks


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_direct_relaunch_is_counted_once(tmp_path):
    if os.environ.get("TRITON_INTERPRET") == "1":  # set at collection by a CPU-tier module of this session
        pytest.skip("TRITON_INTERPRET=1 in this pytest session: @triton.jit would interpret; run this file alone")
    launches = LaunchCounter()
    launches.install()
    try:
        module = _load(compile_problem(TWO_KERNELS, CompileConfig()).source, tmp_path)
        model = module.ModelNew()
        x = torch.randn(7, 45, device="cuda")
        for call in range(1, 4):
            _, s = model(x)
            torch.cuda.synchronize()
            torch.testing.assert_close(s, torch.softmax(torch.relu(x) * 2.0, dim=1), atol=1e-5, rtol=1e-5)
            assert launches.total() == 2 * call, dict(launches.counts)
        sites = [v for v in vars(module).values() if isinstance(v, module._Launcher)]
        assert len(sites) == 2 and all(site.compiled is not None for site in sites)  # relaunched directly
    finally:
        launches.uninstall()
