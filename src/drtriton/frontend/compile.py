"""The non-LLM compiler: KernelBench program -> fused Triton ModelNew (importer here, emitter in C++).

    from drtriton.frontend import CompileConfig, compile_problem
    result = compile_problem(open("tests/problems/gelu.py").read(), CompileConfig(policy="mixed"))
    print(result.source); print(result.report)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from drtriton.frontend.importer import ImportedProgram, import_program
from drtriton.util.errors import UsageError
from drtriton.util.provenance import Provenance

POLICIES = ("strict", "mixed", "hybrid")

# Knob names -> (type, lowest legal value). Power-of-two tiles: tl.arange needs them.
_INT_KNOBS = {"block": 16, "reduce_block": 16, "reduce_block_inner": 1, "block_m": 0, "block_n": 16,
              "block_k": 16, "num_warps": 1, "num_stages": 0, "split_k": 0}
_BOOL_KNOBS = ("fuse_epilogue", "fuse_prologue", "allow_tf32", "exact_dot", "conv_channels_last", "conv_tf32")
_POW2 = {"block", "reduce_block", "reduce_block_inner", "block_m", "block_n", "block_k", "num_warps"}


@dataclass
class CompileConfig:
    """How to compile one program.

    policy: strict (everything in Triton), mixed (convolutions may stay PyTorch library calls, their
        epilogues fused in Triton; the default and our headline policy), hybrid (any registry operator
        without a Triton lowering stays a PyTorch call).
    knobs: emitter knobs the search turns: block, reduce_block, reduce_block_inner, block_m (0: auto), block_n,
        block_k (powers of two), num_warps, num_stages (0: auto, 4 for matmuls, else 2), split_k (matmul K split
        into partials: 0 auto, 1 never, n ways), fuse_epilogue, fuse_prologue, allow_tf32, exact_dot,
        conv_channels_last (on by default: convolutions read and write channels-last memory), conv_tf32 (on by
        default: cuDNN may run those convolutions in TF32; off: full fp32), and split (value ids forced to memory: a fusion split after them).
    """

    policy: str = "mixed"
    knobs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise UsageError(f"--policy must be one of strict, mixed, hybrid, got {self.policy!r}")
        for name, value in self.knobs.items():
            if name in _INT_KNOBS:
                if not isinstance(value, int) or isinstance(value, bool) or value < _INT_KNOBS[name]:
                    raise UsageError(f"knob {name} must be an integer >= {_INT_KNOBS[name]}, got {value!r}")
                if name in _POW2 and value & (value - 1):
                    raise UsageError(f"knob {name} must be a power of two, got {value}; try "
                                     f"{1 << (value.bit_length() - 1)}")
            elif name in _BOOL_KNOBS:
                if not isinstance(value, bool):
                    raise UsageError(f"knob {name} must be true or false, got {value!r}")
            elif name == "split":
                if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value):
                    raise UsageError(f"knob split must be a list of value ids, got {value!r}")
            else:
                known = ", ".join([*_INT_KNOBS, *_BOOL_KNOBS, "split"])
                raise UsageError(f"unknown knob {name!r}; known knobs: {known}")


@dataclass
class CompileResult:
    source: str  # the ModelNew file
    report: dict  # policy, kernels (kind, fused ops), library calls, unsupported, provenance
    program: ImportedProgram

    def to_json(self) -> dict:
        return {"report": self.report, "source": self.source}


def parse_knobs(items: list[str]) -> dict:
    """Parses CLI `--knobs name=value ...` (ints, true/false, split=3,7) into a knobs dict."""
    knobs: dict = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--knobs takes name=value pairs, got {item!r}; e.g. --knobs block_m=32 num_warps=8")
        if name == "split":
            try:
                knobs[name] = [int(v) for v in raw.split(",") if v]
            except ValueError:
                raise UsageError(f"--knobs split takes comma-separated value ids, got {raw!r}") from None
        elif raw.lower() in ("true", "false"):
            knobs[name] = raw.lower() == "true"
        else:
            try:
                knobs[name] = int(raw)
            except ValueError:
                raise UsageError(f"--knobs {name} must be an integer or true/false, got {raw!r}") from None
    return knobs


def compile_problem(problem_src: str, config: CompileConfig | None = None, dump_after: str = "") -> CompileResult:
    """Compiles a KernelBench-format program into a fused Triton ModelNew.

    Args:
        problem_src: the program's source text.
        config: policy and emitter knobs.
        dump_after: when set, `.source` is the planner's dump after that pass instead of a program.

    Returns:
        CompileResult with the ModelNew source and a report of what ran where.

    Raises:
        UsageError: the program cannot be imported, or an operator cannot be lowered under the policy.
    """
    from drtriton import _core

    config = config or CompileConfig()
    # hybrid: FX calls with no registry operator stay PyTorch code between the kernels (region splitting).
    program = import_program(problem_src, hybrid=config.policy == "hybrid")
    if program.unsupported:
        listed = "; ".join(f"{u.node} ({u.target}): {u.why}" for u in program.unsupported)
        raise UsageError(f"cannot import {len(program.unsupported)} operation(s): {listed}; rewrite them with "
                         "registry operators (drtriton ops lists them)")
    graph_json = program.graph_json
    try:
        source = _core.emit_triton(graph_json, config.knobs, config.policy, program.params,
                                   program.init_source, program.preamble, dump_after, program.extra_inputs,
                                   program.host_deps)
        plan = json.loads(_core.triton_plan(graph_json, config.knobs, config.policy, program.extra_inputs,
                                            program.host_deps))
    except ValueError as exc:  # _core errors are ValueError subclasses with a one-line message
        raise UsageError(str(exc)) from None
    report = {
        "policy": config.policy,
        "knobs": dict(config.knobs),
        "kernels": [k for k in plan["kernels"] if k["kind"] != "library"],
        "library_calls": [k["ops"] for k in plan["kernels"] if k["kind"] == "library"],
        # hybrid: PyTorch calls with no registry operator, kept between the kernels
        "host_calls": [program.extra_inputs[j] for j in sorted(program.host_deps)],
        "unsupported": plan["unsupported"],
        "provenance": asdict(Provenance.here()),
    }
    return CompileResult(source, report, program)
