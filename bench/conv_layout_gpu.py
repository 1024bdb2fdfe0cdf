"""Does running a problem's convolutions in channels-last layout pay on this GPU, even with the output
converted back to contiguous NCHW after each one? (torch.compile does the former by default: Inductor's
layout optimisation; the KernelBench level-2 run showed it ~2x faster than eager on conv problems.)

    python3 bench/conv_layout_gpu.py --path <KernelBench checkout>/KernelBench --level 2 --ids 4,11,25,87

For each problem: eager Model as written, and the same Model with every nn.Conv*d's weight stored
channels-last and its forward wrapped as conv(x in channels-last).contiguous(); both timed with CUDA
events (median of --iters after --warmup calls), outputs compared. Prints a table, writes JSON to --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn
from codegen_gpu import _time  # CUDA-event median of one call, as the code generator's benchmark times

_CONVS = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"kb_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kernelbench_problems(path: str, level: int, ids: str):
    """(id, file, Model on the GPU in training mode, inputs drawn on the GPU) for each id in `ids`
    ("4,11,25") of <path>/level<level>; ids without a file are reported on stderr and skipped."""
    folder = Path(path) / f"level{level}"
    for pid in [int(x) for x in ids.split(",") if x.strip()]:
        file = next(folder.glob(f"{pid}_*.py"), None)
        if file is None:
            print(f"{pid}: no problem file in {folder}", file=sys.stderr)
            continue
        prob = _load(file)
        torch.manual_seed(0)
        model = prob.Model(*prob.get_init_inputs()).cuda()
        with torch.device("cuda"):
            torch.manual_seed(1)
            inputs = list(prob.get_inputs())
        yield pid, file, model, inputs


def channels_last(model: nn.Module) -> int:
    """Wraps every convolution of `model` in place; returns how many."""
    n = 0
    for mod in model.modules():
        if not isinstance(mod, _CONVS):
            continue
        fmt = torch.channels_last if mod.weight.dim() == 4 else torch.channels_last_3d
        mod.weight.data = mod.weight.data.contiguous(memory_format=fmt)
        inner = mod.forward

        def forward(x, inner=inner, fmt=fmt):
            return inner(x.contiguous(memory_format=fmt)).contiguous()

        mod.forward = forward
        n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="the KernelBench folder holding level1..level3")
    ap.add_argument("--level", type=int, default=2)
    ap.add_argument("--ids", default="4,11,25,87", help="comma-separated problem ids")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "conv_layout_gpu.json")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("conv_layout_gpu: needs a CUDA GPU", file=sys.stderr)
        return 2
    rows = []
    for pid, path, model, inputs in kernelbench_problems(args.path, args.level, args.ids):
        model.eval()
        row = {"id": pid, "name": path.stem}
        with torch.no_grad():
            row["eager_ms"] = _time(model, inputs, args.iters, args.warmup)
            ref = model(*inputs)
            row["convs"] = channels_last(model)
            row["channels_last_ms"] = _time(model, inputs, args.iters, args.warmup)
            out = model(*inputs)
        row["max_abs_diff"] = float((out.double() - ref.double()).abs().max())
        row["speedup"] = row["eager_ms"] / row["channels_last_ms"]
        rows.append(row)
        print(f"{pid:>3} {path.stem[:50]:50} eager {row['eager_ms']:.3f} ms  channels-last {row['channels_last_ms']:.3f}"
              f" ms  x{row['speedup']:.2f}  ({row['convs']} convs, max diff {row['max_abs_diff']:.1e})", flush=True)
        del model, inputs, ref, out
        torch.cuda.empty_cache()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                    "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
