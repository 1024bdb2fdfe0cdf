"""Generation speed of the tiny policy with Hugging Face `generate` (what an RL step of the pipeline spends most
of its time on): tokens per second by batch size, weight/compute dtype and KV-cache kind.

    python3 bench/gen_speed.py --out $OUT/gen_speed.json                 # H100: ~3 minutes
    python3 bench/gen_speed.py --batches 4 --new-tokens 8 --device cpu   # smoke run

Random weights (the speed does not depend on them), random prompt tokens, every sequence forced to
generate exactly --new-tokens tokens (no EOS), sampling at temperature 0.5 as the RL rollouts do. Prints
and writes what it measured; nothing is estimated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def measure(model, batch: int, prompt_len: int, new_tokens: int, vocab: int, mode: str, device: str) -> dict:
    import torch

    ids = torch.randint(2, vocab, (batch, prompt_len), device=device)
    attn = torch.ones_like(ids)
    kwargs = {"do_sample": True, "temperature": 0.5, "top_k": 0, "max_new_tokens": new_tokens,
              "min_new_tokens": new_tokens, "pad_token_id": 0, "eos_token_id": 1}
    if mode.endswith("static"):
        kwargs["cache_implementation"] = "static"
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if mode.startswith("autocast") else nullcontext()
    with torch.no_grad(), ctx:
        model.generate(input_ids=ids[:, :16], attention_mask=attn[:, :16], **{**kwargs, "max_new_tokens": 4,
                                                                             "min_new_tokens": 4})  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=attn, **kwargs)
        if device == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - t
    made = (out.shape[1] - prompt_len) * batch
    return {"mode": mode, "batch": batch, "prompt_tokens": prompt_len, "new_tokens": new_tokens,
            "seconds": round(secs, 3), "tokens_per_s": round(made / secs, 1),
            "ms_per_decode_step": round(1000 * secs / new_tokens, 2),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", default="256,1024", help="comma-separated batch sizes (rollouts per call)")
    ap.add_argument("--prompt-tokens", type=int, default=480)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--modes", default="fp32,autocast_bf16,bf16,bf16_static",
                    help="fp32 | autocast_bf16 (fp32 weights, bf16 compute and KV cache) | bf16 (weights) | "
                         "*_static (a static KV cache)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from drtriton.train.models import BUILTIN_MODELS
    from drtriton.util.provenance import Provenance

    vocab = 8192
    rows = []
    for mode in args.modes.split(","):
        torch.manual_seed(0)
        cfg = Qwen2Config(vocab_size=vocab, **BUILTIN_MODELS["tiny"])
        model = AutoModelForCausalLM.from_config(cfg).to(args.device).eval()
        if mode.startswith("bf16"):
            model = model.to(torch.bfloat16)
        for b in (int(x) for x in args.batches.split(",")):
            try:
                row = measure(model, b, args.prompt_tokens, args.new_tokens, vocab, mode, args.device)
            except Exception as exc:  # noqa: BLE001 - a mode that fails is a row with its reason
                row = {"mode": mode, "batch": b, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:300]}
            print(json.dumps(row), flush=True)
            rows.append(row)
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    result = {"rows": rows, "provenance": Provenance.here().to_json(),
              "command": " ".join(sys.argv)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
