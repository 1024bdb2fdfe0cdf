"""Where does torch.compile's time go on KernelBench convolution problems, against eager? Lists the GPU
kernels each one launches per call (torch.profiler), so a speed gap can be traced to a kernel.

    python3 bench/conv_profile_gpu.py --path <KernelBench checkout>/KernelBench --level 2 --ids 4,25,87

For each problem: eager Model and torch.compile(Model) (default mode), both in training mode as KernelBench
calls them, timed with CUDA events (median of --iters after --warmup), then --profile-calls calls of each
under torch.profiler; prints the cuDNN/TF32 flags in force and each kernel's name, calls per model call and
mean microseconds. Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import torch
from codegen_gpu import _load as _load_source  # a generated file, loaded from disk (Triton's @jit needs one)
from codegen_gpu import _time  # CUDA-event median of one call, as the code generator's benchmark times
from conv_layout_gpu import _load as _load_problem
from conv_layout_gpu import kernelbench_problems


def _kernels(fn, inputs, calls: int) -> list[dict]:
    """GPU kernels of `calls` calls: name, launches per call, mean us per launch, share of GPU time."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn(*inputs)
        torch.cuda.synchronize()
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            total[ev.name] += ev.device_time
            count[ev.name] += 1
    rows = [{"kernel": k, "per_call": count[k] / calls, "mean_us": total[k] / count[k], "us_per_call": total[k] / calls}
            for k in total]
    return sorted(rows, key=lambda r: -r["us_per_call"])


def _ours(path: Path, spec: str):
    """drtriton's ModelNew for the problem file (rule-based code generator, policy mixed) on the GPU."""
    from drtriton.frontend import CompileConfig, compile_problem, parse_knobs

    knobs = {} if spec.strip() == "default" else parse_knobs([kv.strip() for kv in spec.split(",")])
    result = compile_problem(path.read_text(), CompileConfig(knobs=knobs))
    new = _load_source(result.source, f"new_{path.stem}")
    prob = _load_problem(path)
    torch.manual_seed(0)
    return new.ModelNew(*prob.get_init_inputs()).cuda()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="the KernelBench folder holding level1..level3")
    ap.add_argument("--level", type=int, default=2)
    ap.add_argument("--ids", default="4,25,87", help="comma-separated problem ids")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--profile-calls", type=int, default=3)
    ap.add_argument("--ours", default="",
                    help="also profile drtriton's ModelNew under these knob sets: ';'-separated, each "
                         "'default' or k=v,k=v (e.g. 'default;conv_tf32=false')")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "conv_profile_gpu.json")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("conv_profile_gpu: needs a CUDA GPU", file=sys.stderr)
        return 2
    flags = {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
             "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
             "cudnn.benchmark": torch.backends.cudnn.benchmark}
    for name in ("conv", "rnn"):
        sub = getattr(torch.backends.cudnn, name, None)
        if sub is not None and hasattr(sub, "fp32_precision"):
            flags[f"cudnn.{name}.fp32_precision"] = sub.fp32_precision
    print("flags:", flags, flush=True)
    rows = []
    for pid, path, model, inputs in kernelbench_problems(args.path, args.level, args.ids):
        row = {"id": pid, "name": path.stem, "input_shapes": [list(t.shape) for t in inputs if torch.is_tensor(t)]}
        with torch.no_grad():
            row["eager_ms"] = _time(model, inputs, args.iters, args.warmup)
            row["eager_kernels"] = _kernels(model, inputs, args.profile_calls)
            compiled = torch.compile(model)
            row["compile_ms"] = _time(compiled, inputs, args.iters, args.warmup)
            row["compile_kernels"] = _kernels(compiled, inputs, args.profile_calls)
            out = compiled(*inputs)
            row["compile_out_stride"] = list(out.stride()) if torch.is_tensor(out) else None
            modes = ["eager", "compile"]
            for spec in [x for x in args.ours.split(";") if x.strip()]:
                new = _ours(path, spec)
                new(*inputs)
                row[f"ours[{spec}]_ms"] = _time(new, inputs, args.iters, args.warmup)
                row[f"ours[{spec}]_kernels"] = _kernels(new, inputs, args.profile_calls)
                modes.append(f"ours[{spec}]")
                del new
        rows.append(row)
        print(f"\n{pid} {path.stem}: eager {row['eager_ms']:.3f} ms, compile {row['compile_ms']:.3f} ms, "
              f"compile output strides {row['compile_out_stride']}", flush=True)
        for mode in modes:
            print(f"  {mode}: {row[f'{mode}_ms']:.3f} ms")
            for k in row[f"{mode}_kernels"][:8]:
                print(f"    {k['us_per_call']:9.1f} us/call  x{k['per_call']:.0f}  {k['kernel'][:110]}")
        del model, inputs, compiled, out
        torch.cuda.empty_cache()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                    "flags": flags, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
