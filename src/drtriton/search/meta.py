"""Import a program with shapes from the meta device: no memory, no FLOPs on the host.

The FX importer runs the user's forward once to learn shapes; at KernelBench sizes that is a host-side
conv of hundreds of GFLOPs or a multi-gigabyte input per problem, before any kernel is proposed. The
graph, and therefore the generated ModelNew, depends only on shapes, dtypes and Python ints, which the
meta device gives exactly. A program that needs real values (x.item(), an operator without a meta
kernel) falls back to the ordinary import.

    with meta_shapes():
        result = compile_problem(src, CompileConfig())
    program = import_fast(src)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def _meta_load(orig_load: Callable[[str], Any]) -> Callable[[str], Any]:
    """The importer's _load, with Model.__init__ and get_inputs() building their tensors on meta."""
    import torch

    def load(problem_src: str) -> Any:
        module = orig_load(problem_src)
        model_cls, get_inputs = module.Model, module.get_inputs
        init = model_cls.__init__

        # Patch __init__ rather than replace Model: `super(Model, self)` must still find the class.
        def meta_init(self: Any, *args: Any, **kwargs: Any) -> None:
            with torch.device("meta"):
                init(self, *args, **kwargs)

        def inputs() -> Any:
            with torch.device("meta"):
                return get_inputs()

        model_cls.__init__, module.get_inputs = meta_init, inputs
        return module

    return load


@contextlib.contextmanager
def meta_shapes() -> Iterator[None]:
    """Within the block, drtriton.frontend's importer builds Model and inputs on the meta device."""
    from drtriton.frontend import importer

    orig = importer._load
    importer._load = _meta_load(orig)
    try:
        yield
    finally:
        importer._load = orig


def on_meta_else_real(fn: Callable[[], T]) -> T:
    """fn() under meta_shapes(); again without it when the meta run fails for any reason but a usage
    error that is not about the meta device (those would fail the same way on real tensors)."""
    from drtriton.util.errors import UsageError

    try:
        with meta_shapes():
            return fn()
    except UsageError as exc:
        if "meta" not in str(exc):
            raise
        return fn()
    except Exception:  # noqa: BLE001 - an operator without a meta kernel, or real values needed: real run
        return fn()


def import_fast(problem_src: str) -> Any:
    """drtriton.frontend.import_program with meta shapes when possible (same graph, no host compute)."""
    from drtriton.frontend.importer import import_program

    return on_meta_else_real(lambda: import_program(problem_src))
