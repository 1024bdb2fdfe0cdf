"""GPU evidence for training (issue 6): the tiny model from scratch (SFT -> DRPO/GRPO -> held-out eval on
levels 1, 2, 5) and one RL step of a 7B-class model. Each phase fits one 10-minute command; the run folder
(runs/bench_train, git-ignored) carries state between phases, and every phase resumes if killed.

    python bench/train_gpu.py sft   --budget-s 480          # pairs (synth + codegen + verifier), tokenizer, SFT
    python bench/train_gpu.py rl    --algo drpo --budget-s 420
    python bench/train_gpu.py rl    --algo grpo --budget-s 420
    python bench/train_gpu.py eval  --budget-s 540          # sft / drpo / grpo models on levels 1, 2, 5
    python bench/train_gpu.py scale7b                       # Qwen2.5-7B arch, random bf16, LoRA, grad ckpt
Each phase prints what it measured and writes $OUT/train_<phase>.json (or --out DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from drtriton.train.config import load_config
from drtriton.util.provenance import Provenance

RUN = ROOT / "runs" / "bench_train"
LEVELS = [1, 2, 5]


def base_overrides(args) -> dict:
    return {"device": "auto", "seed": 0, "data.levels": LEVELS, "data.heldout_n": args.heldout_n,
            "curriculum.levels": LEVELS, "verify.device": "auto", "verify.policy": "mixed",
            # fast_1 here is vs eager; compiling every reference with inductor would eat the budget.
            "verify.time_compile_baseline": False, "rl.verify_workers": 4}


def data_source_name() -> str:
    """synth when the synthesizer imports, else the repo's problem folder (recorded in every JSON)."""
    try:
        from drtriton import synth

        synth.SynthConfig  # noqa: B018 - the attribute the training data source uses
        return "synth"
    except Exception:  # noqa: BLE001 - record the fallback instead of failing the bench
        return "folder"


def honest_solutions() -> dict[str, str]:
    """Fallback reference solutions when the code generator cannot compile a problem: tests/redteam/honest."""
    from drtriton.train.data import text_hash

    out = {}
    for sol in sorted((ROOT / "tests" / "redteam" / "honest").glob("*__*.py")):
        prob = ROOT / "tests" / "problems" / (sol.name.split("__")[0] + ".py")
        if prob.is_file():
            out.setdefault(text_hash(prob.read_text()), sol.read_text())
    return out


def config(args, kind: str, **extra):
    src = data_source_name()
    o = base_overrides(args)
    o.update({"data.source": src, "data.scale": ("small" if args.smoke else "realistic") if src == "synth" else None,
              "data.folder": str(ROOT / "tests" / "problems") if src == "folder" else None})
    if kind == "sft":
        o.update({"run_dir": str(RUN / "sft"), "model.builtin": "tiny", "model.tokenizer_dir": str(RUN / "tok"),
                  "model.vocab_size": 8192, "data.sft_pairs": str(RUN / "sft_pairs.jsonl"),
                  "data.sft_n_per_level": args.pairs_per_level, "sft.backend": "native", "sft.lr": 1e-3,
                  "sft.batch_size": 16, "sft.max_len": 3072, "sft.max_steps": args.sft_steps,
                  "sft.save_every": 100, "sft.log_every": 5})
    else:
        o.update({"run_dir": str(RUN / f"rl_{extra['algo']}"), "model.path": str(RUN / "sft" / "final"),
                  "rl.algo": extra["algo"], "rl.rollouts": 8, "rl.prompts_per_step": 4, "rl.lr": args.rl_lr,
                  "rl.steps": args.rl_steps, "rl.updates_per_batch": 2, "rl.max_new_tokens": args.max_new_tokens,
                  "rl.save_every": 5, "rl.gen_prompts_per_call": 2,
                  "curriculum.eval_every": 5, "eval_n": 8})
    o.update(extra.get("more", {}))
    if args.smoke:  # CPU dry run of the whole flow: 2-layer model, one level, a handful of tasks
        o.update({"model.builtin": "test", "model.vocab_size": 400, "sft.batch_size": 2, "sft.max_len": 1024,
                  "verify.seeds": [0], "verify.distributions": ["normal"]} if kind == "sft" else
                 {"rl.rollouts": 2, "rl.prompts_per_step": 1, "verify.seeds": [0],
                  "verify.distributions": ["normal"], "eval_n": 1, "curriculum.eval_every": 1})
    return load_config(None, o), src


def phase_sft(args) -> dict:
    from drtriton.train import data as data_mod
    from drtriton.train.sft import run_sft

    cfg, src = config(args, "sft", more={"sft.max_seconds": args.budget_s * 0.6})
    fallback = honest_solutions()
    used = {"codegen": 0, "honest": 0}

    def solve(program: str) -> str | None:
        sol = data_mod.reference_solution(program)
        if sol is not None:
            used["codegen"] += 1
            return sol
        sol = fallback.get(data_mod.text_hash(program))
        used["honest"] += sol is not None
        return sol

    from drtriton.train.workspace import Workspace

    t0 = time.time()
    ws = Workspace(cfg, solve=solve)
    try:
        result = run_sft(cfg, ws=ws)
    finally:
        ws.close()
    counts_path = cfg.run_dir / "sft_pairs_counts.json"
    return {"phase": "sft", "data_source": src, "solutions_from": used, "pairs": result.n_pairs,
            "pair_counts": json.loads(counts_path.read_text()) if counts_path.is_file() else None,
            "params": result.params, "steps": result.steps, "final_loss": result.final_loss,
            "backend": result.backend, "seconds": time.time() - t0, "final_dir": str(result.final_dir)}


def phase_rl(args) -> dict:
    from drtriton.train.rl import run_rl

    cfg, src = config(args, "rl", algo=args.algo, more={"rl.max_seconds": args.budget_s * 0.85})
    t0 = time.time()
    r = run_rl(cfg)
    from drtriton.train.metrics import read_metrics

    series = read_metrics(cfg.run_dir / "metrics.csv")
    last = {k: v[-1][1] for k, v in series.items()}
    return {"phase": f"rl_{args.algo}", "data_source": src, "steps": r.steps, "level": r.level,
            "curriculum": r.curriculum, "seconds": time.time() - t0, "last": last,
            "correct_rate_curve": series.get("rollout/correct_rate"),
            "pass_at_1_curve": series.get("eval/pass_at_1"), "final_dir": str(r.final_dir)}


def phase_eval(args) -> dict:
    from drtriton.train.evaluate import eval_model_dir
    from drtriton.train.workspace import Workspace

    cfg, src = config(args, "rl", algo="drpo")
    ws = Workspace(cfg)
    out = {"phase": "eval", "data_source": src, "n_per_level": args.eval_n, "results": {}}
    t0 = time.time()
    try:
        for name in ("sft", "rl_drpo", "rl_grpo"):
            folder = RUN / name / "final"
            if not (folder / "config.json").is_file():
                out["results"][name] = None  # that phase has not run
                continue
            for level in LEVELS:
                if time.time() - t0 > args.budget_s * 0.9:
                    out["results"].setdefault(name, {})[level] = None  # out of time: unmeasured
                    continue
                r = eval_model_dir(folder, level, cfg, n=args.eval_n, max_new_tokens=args.max_new_tokens, ws=ws)
                out["results"].setdefault(name, {})[level] = {k: v for k, v in r.to_json().items()
                                                              if k not in ("records", "provenance")}
                print(f"{name} level {level}: compile {r.compile_rate:.3f} correct {r.correct_rate:.3f} "
                      f"fast_1 {r.fast_1}", flush=True)
    finally:
        ws.close()
    out["seconds"] = time.time() - t0
    return out


def phase_scale7b(args) -> dict:
    """One DRPO step of the Qwen2.5-7B architecture: random bf16 weights, LoRA, gradient checkpointing."""
    import torch
    from transformers import AutoModelForCausalLM

    from drtriton.train.config import RunConfig
    from drtriton.train.models import LoraSpec, builtin_config, count_parameters
    from drtriton.train.policy import Rollout
    from drtriton.train.rewards import Outcome
    from drtriton.train.rl import ScoredRollout, policy_update

    cuda = torch.cuda.is_available()
    if args.arch == "qwen2.5-7b" and not cuda:
        raise SystemExit("scale7b with the 7B architecture needs a CUDA GPU (use --arch test for a CPU dry run)")
    dev = "cuda" if cuda else "cpu"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    peak = torch.cuda.max_memory_allocated if cuda else (lambda: None)
    reset = torch.cuda.reset_peak_memory_stats if cuda else (lambda: None)
    torch.manual_seed(0)
    t0 = time.time()
    cfg7 = builtin_config(args.arch, 152064)
    with torch.device(dev):
        model = AutoModelForCausalLM.from_config(cfg7, dtype=torch.bfloat16)
    build_s = time.time() - t0
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    from peft import LoraConfig, get_peft_model

    lora = LoraSpec()
    model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha, target_modules=list(lora.target_modules),
                                             task_type="CAUSAL_LM"))
    n_rollouts, prompt_len, new_tokens = 8, args.prompt_len, args.new_tokens
    prompt = torch.randint(100, 150000, (1, prompt_len), device=dev)
    reset()
    model.eval()
    sync()
    t1 = time.time()
    with torch.no_grad():
        out = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=True,
                             num_return_sequences=n_rollouts, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             top_k=0, pad_token_id=0, use_cache=True)
    sync()
    gen_s = time.time() - t1
    gen_tokens = n_rollouts * (out.shape[1] - prompt_len)
    gen_peak = peak()
    # Timing-only correctness labels (half correct): the step's cost does not depend on which are correct.
    scored = [ScoredRollout(Rollout(0, prompt[0].tolist(), out[i, prompt_len:].tolist(), ""),
                            Outcome("correct", speedup_vs_eager=1.0 + i) if i % 2 == 0 else Outcome("incorrect"))
              for i in range(n_rollouts)]
    rcfg = load_config(None, {"rl.algo": "drpo", "rl.updates_per_batch": 1, "rl.lr": 1e-6, "rl.rollouts": 8})
    assert isinstance(rcfg, RunConfig)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    reset()
    sync()
    t2 = time.time()
    stats = policy_update(model, opt, scored, "drpo", rcfg, pad_id=0)
    sync()
    update_s = time.time() - t2
    return {"phase": "scale7b", "arch": args.arch, "dtype": "bfloat16",
            "params": count_parameters(model), "trainable_params": count_parameters(model, trainable_only=True),
            "lora_r": lora.r, "gradient_checkpointing": True, "rollouts": n_rollouts, "prompt_tokens": prompt_len,
            "new_tokens_per_rollout": new_tokens, "build_s": build_s, "generation_s": gen_s,
            "generation_tokens_per_s": gen_tokens / gen_s, "generation_peak_mem_gib": gen_peak / 2**30 if cuda else None,
            "update_s": update_s, "step_s": gen_s + update_s,
            "update_peak_mem_gib": peak() / 2**30 if cuda else None, "drpo_stats": stats,
            "device": torch.cuda.get_device_name(0) if cuda else "cpu"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=["sft", "rl", "eval", "scale7b"])
    ap.add_argument("--algo", choices=["drpo", "grpo"], default="drpo")
    ap.add_argument("--budget-s", type=float, default=480.0, help="wall-time budget of this phase")
    ap.add_argument("--pairs-per-level", type=int, default=60)
    ap.add_argument("--sft-steps", type=int, default=400)
    ap.add_argument("--rl-steps", type=int, default=40)
    ap.add_argument("--rl-lr", type=float, default=1e-5, help="tiny model: 1e-5 (the paper's 1e-6 is for 7B)")
    ap.add_argument("--heldout-n", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=1536, help="answer cap for RL rollouts and eval")
    ap.add_argument("--eval-n", type=int, default=16)
    ap.add_argument("--prompt-len", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--arch", default="qwen2.5-7b", help="scale7b: built-in architecture (test: CPU dry run)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")))
    ap.add_argument("--smoke", action="store_true",
                    help="CPU dry run (2-layer model, level 1, tiny counts) into runs/bench_train_smoke")
    args = ap.parse_args()
    if args.smoke:
        global RUN, LEVELS
        RUN, LEVELS = ROOT / "runs" / "bench_train_smoke", [1]
        args.pairs_per_level, args.sft_steps, args.rl_steps = 2, 2, 1
        args.heldout_n, args.eval_n, args.max_new_tokens = 2, 1, 16
    fn = {"sft": phase_sft, "rl": phase_rl, "eval": phase_eval, "scale7b": phase_scale7b}[args.phase]
    result = fn(args)
    result["provenance"] = Provenance.here().to_json()
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"train_{args.phase}{'_' + args.algo if args.phase == 'rl' else ''}.json"
    (args.out / name).write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_curve")}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
