"""GPU evidence for training (issue 6), for the lead: the tiny model from scratch, end to end in one command
(data -> SFT -> held-out eval -> DRPO and GRPO on the same prompts -> eval of both, levels 1, 2, 5), and
one RL step of a 7B-class model.

    python3 bench/train_gpu.py pipeline --out $OUT/train            # ~9 min (545 s budget) on one H100, 16 cores
    python3 bench/train_gpu.py pipeline --out $OUT/a --save-sft $OUT/sft --stop-after sft   # or two commands:
    python3 bench/train_gpu.py pipeline --out $OUT/b --init-sft $OUT/sft                    # SFT once, then RL
    python3 bench/train_gpu.py pipeline --out $OUT/d --init-sft DIR --preset rl-long --algo drpo   # RL only,
    python3 bench/train_gpu.py pipeline --out $OUT/g --init-sft DIR --preset rl-long --algo grpo   # ~400 s each
    python3 bench/train_gpu.py pipeline --out $OUT/d2 --init-sft DIR --preset rl-long --algo drpo \
        --init-rl RL1 --save-rl $OUT/rl2     # RL past one command: continue the policy a --save-rl kept
    python3 bench/train_gpu.py compare --runs $OUT/d/results.json $OUT/g/results.json --out /tmp/c   # both (CPU)
    python3 bench/train_gpu.py pipeline --out /tmp/p --smoke         # CPU dry run (TRITON_INTERPRET=1)
    python3 bench/train_gpu.py rewardcheck --out $OUT               # RL reward check vs verifier: time, agreement
    python3 bench/train_gpu.py scale7b --out $OUT                   # Qwen2.5-7B arch, random bf16, LoRA
    python3 bench/train_gpu.py passk --init-sft DIR --out $OUT      # greedy vs pass@k of samples, held-out
    python3 bench/train_gpu.py targets --out /tmp/t                 # SFT targets: canonical rewrite, padding (CPU)
The pipeline writes --out/results.json after every phase (plus plots, metrics CSV, TensorBoard events and
eval_answers.jsonl); models and checkpoints go to --work (git-ignored runs/). It prints the comparison.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from drtriton.train.config import load_config
from drtriton.util.provenance import Provenance

# `--preset rl-long --algo A --init-sft DIR`: one RL algorithm per 10-minute command, from a saved SFT model,
# with the level-1 evaluation of SFT and SFT+A in the same command (the same held-out tasks, greedy answers
# with the same caps, the same fast check; the sandboxed verifier gets what time is left). Run it once per
# algorithm: both start from the same model, prompt list (saved + the same extra seeds) and time budget.
#   probe_sft 50 s: SFT's greedy answers to the 64 level-1 held-out tasks, fast-checked (the baseline)
#   rl_<algo>: the rest of --budget-s (default 510: 355 s; the H100 run of 90c16c8 had ~150 s per
#     algorithm), shortened if the probe runs long
#   eval 105 s: SFT+<algo>'s greedy answers to the same tasks, fast check, then the verifier (75 s in the
#     session-9 H100 runs: the verifier finished DRPO's run but not GRPO's 48 distinct answers)
RL_LONG = {
    "eval_levels": (1,), "budget_s": 510.0, "later_phase_reserve": 1.0,
    "budgets": {"data": 0.0, "sft": 0.0, "probe_sft": 50.0, "eval": 105.0},  # + rl_<algo>: the rest
    # 32 prompts x 8 rollouts per generate() call (was 16 x 8): a step of the tiny model is generation-bound
    # (gen 6-12 s of 7-15 s per step in the run of 90c16c8, the check 0.2-2 s and hidden behind it), and
    # its decoding is per-token overhead at this size, so twice the groups cost far less than twice the time
    "rl_prompts_per_step": 32,
    "rl_extra_tasks": 160,  # 78 saved level-1 prompts + up to 160 new ones (fewer: repeats are dropped)
    "rl_revisit_share": 0.5,
    "rl_signal_only": True,
    # 0.5 stays (measured on CPU, 8 level-1 RL prompts x 8 samples of the saved SFT model, fast check on
    # the interpreter: 15/64 correct and 6 of 8 groups mixed at 0.5; 9/64, 4 of 8 mixed and 11 syntax
    # errors at 1.0; greedy 2/8)
    "rl_temperature": 0.5,
}

RL_SMOKE = {"eval_levels": (1,), "rl_extra_tasks": 2, "rl_revisit_share": 0.5, "rl_signal_only": True}


def phase_pipeline(args) -> dict:
    from drtriton.train.pipeline import PipelineConfig, run_pipeline

    out = args.out
    work = args.work or ROOT / "runs" / ("pipeline_smoke" if args.smoke else "pipeline")
    cfg = PipelineConfig.smoke(out, work) if args.smoke else PipelineConfig(out=out, work=work)
    if args.preset == "rl-long":
        if not args.init_sft or not args.algo:
            raise SystemExit("--preset rl-long needs --init-sft DIR (a --save-sft folder) and --algo drpo|grpo")
        # --smoke: the same phases at toy sizes (level 1 only, two extra prompts)
        cfg = replace(cfg, **(RL_SMOKE if args.smoke else RL_LONG), rl_algos=(args.algo,))
        if not args.smoke:
            total = args.budget_s or cfg.budget_s
            rl = total - cfg.budgets["probe_sft"] - cfg.budgets["eval"]
            if rl < 60:
                raise SystemExit(f"--preset rl-long: --budget-s {total:g} leaves {rl:g} s for RL; give it >= 185")
            cfg = replace(cfg, budgets={**cfg.budgets, f"rl_{args.algo}": rl})
    elif args.algo:
        cfg = replace(cfg, rl_algos=(args.algo,))
    changes = {"budget_s": args.budget_s, "heldout_n": args.heldout_n, "rl_lr": args.rl_lr,
               "workers": args.workers, "seed": args.seed, "rl_reward": args.rl_reward,
               "sft_canonical": False if args.no_canonical else None, "save_sft": args.save_sft,
               "init_sft": args.init_sft, "stop_after": args.stop_after,
               "save_rl": args.save_rl, "init_rl": args.init_rl,
               "eval_levels": tuple(args.eval_levels) if args.eval_levels else None}
    budgets = dict(cfg.budgets)
    if not args.smoke and args.stop_after == "sft":
        # first of two commands: SFT takes the whole budget the data phase leaves
        budgets["sft"] = (args.budget_s or cfg.budget_s) - budgets["data"]
        changes["budgets"] = budgets
    elif not args.smoke and args.init_sft and args.preset is None:
        # second of two commands: no data or SFT phase; RL and the evaluation get their time
        budgets.update({"data": 0.0, "sft": 0.0, "probe_sft": 60.0, "rl_drpo": 170.0, "rl_grpo": 170.0,
                        "eval": 145.0})
        changes["budgets"] = budgets
    for item in args.set or []:
        key, _, value = item.partition("=")
        if key not in {f.name for f in fields(PipelineConfig)}:
            raise SystemExit(f"--set takes FIELD=VALUE with a PipelineConfig field, got {item!r}; "
                             "e.g. --set rl_prompts_per_step=8")
        try:
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            changes[key] = value  # a plain string
    if args.budget:
        for item in args.budget:
            phase, _, secs = item.partition("=")
            try:
                budgets[phase] = float(secs)
            except ValueError:
                raise SystemExit(f"--budget takes PHASE=SECONDS, got {item!r}; e.g. --budget sft=120") from None
        changes["budgets"] = budgets
    cfg = replace(cfg, **{k: v for k, v in changes.items() if v is not None})
    results = run_pipeline(cfg)
    return {"phase": "pipeline", "out": str(out), "phases": results["phases"],
            "comparison": results.get("comparison"), "seconds": results.get("seconds")}


def phase_rewardcheck(args) -> dict:
    """The RL reward check vs the sandboxed verifier on the same honest kernels (tests/redteam/honest):
    wall time of each, and whether their verdicts agree."""
    import torch

    from drtriton.train.fastcheck import FastChecker, default_workers
    from drtriton.verify import VerifierPool, VerifyConfig

    device = "cuda" if torch.cuda.is_available() else "cpu"
    pairs, names = [], []
    for sol in sorted((ROOT / "tests" / "redteam" / "honest").glob("*__*.py")):
        prob = ROOT / "tests" / "problems" / (sol.name.split("__")[0] + ".py")
        if prob.is_file():
            pairs.append((prob.read_text(), sol.read_text()))
            names.append(sol.stem)
    pairs, names = pairs[: args.n_kernels], names[: args.n_kernels]
    workers = args.workers or default_workers()
    fc = FastChecker(workers, device)
    t = time.time()
    fast = fc(pairs)
    fast_cold = time.time() - t
    t = time.time()
    fc(pairs)
    fast_warm = time.time() - t
    fc.close()
    from drtriton.train.pipeline import PipelineConfig

    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in PipelineConfig().verify.items()}
    pool = VerifierPool(VerifyConfig(**fields), workers=workers)  # the pipeline's evaluation config
    t = time.time()
    verdicts = pool.verify_many(pairs)
    verifier_s = time.time() - t
    pool.close()
    rows = [{"kernel": n, "fast": f.status, "verifier": str(v.status.value)} for n, f, v in zip(names, fast, verdicts)]
    return {"phase": "rewardcheck", "device": device, "workers": workers, "n": len(pairs),
            "fast_check_s_cold": fast_cold, "fast_check_s_warm": fast_warm, "verifier_s": verifier_s,
            "fast_per_min_warm": 60 * len(pairs) / fast_warm, "verifier_per_min": 60 * len(pairs) / verifier_s,
            "agree": sum(r["fast"] == r["verifier"] for r in rows), "rows": rows}


def phase_passk(args) -> dict:
    """How much a policy's samples know beyond its greedy answer: on the held-out tasks of a --save-sft
    folder, the greedy answer and --samples answers at --temperature (as RL samples them) per task, all
    checked by the RL reward's fast check. pass@k - pass@1 (greedy) bounds what RL can gain by making the
    policy answer greedily what it already finds in k samples."""
    import torch

    from drtriton.train.evaluate import generate_answers, pass_at_k, sample_answers, verify_answers
    from drtriton.train.fastcheck import FastChecker, default_workers
    from drtriton.train.models import ModelSpec, load_model
    from drtriton.train.policy import RolloutSampler, rollout_dtype
    from drtriton.train.workspace import CachedVerifier
    from drtriton.util.errors import UsageError

    if not args.init_sft:
        raise UsageError("passk needs --init-sft DIR (a pipeline --save-sft folder: model/ and pipeline_state.json)")
    state_file = args.init_sft / "pipeline_state.json"
    if not state_file.is_file():
        raise UsageError(f"--init-sft {args.init_sft} has no pipeline_state.json; make one with "
                         "`bench/train_gpu.py pipeline --save-sft DIR --stop-after sft`")
    state = json.loads(state_file.read_text())
    level = (args.eval_levels or [1])[0]
    tasks = (state["heldout"].get(str(level)) or [])[: args.heldout_n or 64]
    if not tasks:
        raise UsageError(f"--init-sft {args.init_sft} has no held-out tasks at level {level}")
    cap = int(state["caps"][str(level)])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = load_model(ModelSpec(path=args.init_sft / "model"), device=device)
    t = time.time()
    greedy = generate_answers(model, tok, tasks, cap, batch_size=len(tasks))
    gen_dtype = rollout_dtype("auto", device)
    gen = RolloutSampler(model, gen_dtype).sync()
    samples = sample_answers(gen, tok, tasks, args.samples, cap, args.temperature)
    gen_s = time.time() - t
    fc = FastChecker(args.workers or default_workers(), device)
    check = CachedVerifier(verify_many=fc, close=fc.close)  # each distinct (task, answer) is checked once
    n = args.samples
    t = time.time()
    try:  # one batch: greedy answers first, then each task's n samples
        result = verify_answers(tasks + [task for task in tasks for _ in range(n)],
                                greedy + [a for answers in samples for a in answers], check)
    finally:
        check.close()
    check_s = time.time() - t
    correct = [r["status"] == "correct" for r in result.records]
    greedy_ok = correct[: len(tasks)]
    counts = [sum(correct[len(tasks) + i * n: len(tasks) + (i + 1) * n]) for i in range(len(tasks))]
    ks = [k for k in (1, 2, 4, 8, 16, 32) if k <= n]
    return {"phase": "passk", "model": str(args.init_sft), "level": level, "tasks": len(tasks), "samples": n,
            "temperature": args.temperature, "sampler": "bfloat16 copy" if gen_dtype == "bfloat16" else "model",
            "check": "fast check (RL reward: static rules + 2 normal input draws)", "answer_cap": cap,
            "greedy_pass_at_1": sum(greedy_ok) / len(tasks),
            "pass_at_k": {k: sum(pass_at_k(n, c, k) for c in counts) / len(tasks) for k in ks},
            "tasks_solved_by_some_sample_not_greedy": sum(c > 0 and not g for c, g in zip(counts, greedy_ok)),
            "tasks_greedy_solved_no_sample": sum(c == 0 and g for c, g in zip(counts, greedy_ok)),
            "distinct_answers_checked": check.verified, "generate_s": gen_s, "check_s": check_s,
            "per_task_correct_samples": counts}


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


def phase_targets(args) -> dict:
    """SFT targets at the pipeline's scale and level mix (no check, no GPU): how often `canonical_solution`
    rewrites the code generator's answer, digits and tokens per answer before and after, and the share of
    real (unpadded) tokens in batches of 16 with plain vs length-bucketed epoch orders."""
    from drtriton.train.data import SynthSource, reference_solution
    from drtriton.train.datagen import canonical_solution, compact_solution, direct_launches, shape_free
    from drtriton.train.models import train_tokenizer
    from drtriton.train.pipeline import PipelineConfig
    from drtriton.train.prompt import build_prompt, format_answer
    from drtriton.train.sft import epoch_order

    cfg = PipelineConfig()
    source, rows = SynthSource(cfg.scale), []
    total = sum(cfg.sft_level_weights)
    for level, w in zip(cfg.levels, cfg.sft_level_weights):
        for k in range(round(args.n_programs * w / total)):
            task = source.draw(level, 999 + k)
            sol = reference_solution(task["program"])
            if sol is not None:
                code = compact_solution(sol)
                rows.append((build_prompt(task["program"]), code,
                             shape_free(task["program"], canonical_solution(task["program"], direct_launches(code)))))
    if not rows:
        raise SystemExit("targets: the code generator compiled none of the programs drawn")
    tok = train_tokenizer([p + format_answer(c) for p, _, c in rows], cfg.vocab_size,
                          args.out / "targets_tokenizer")
    n_tok = lambda text: len(tok(text, add_special_tokens=False).input_ids)  # noqa: E731
    digits = lambda code: sum(ch.isdigit() for ch in code.split("class ModelNew")[-1])  # noqa: E731
    out: dict = {"phase": "targets", "programs": len(rows), "rewritten": sum(a != b for _, a, b in rows)}
    for name, col in (("as_written", 1), ("canonical", 2)):
        out[name] = {"answer_tokens_mean": sum(n_tok(format_answer(r[col])) for r in rows) / len(rows),
                     "model_new_digits_mean": sum(digits(r[col]) for r in rows) / len(rows)}
    lengths = [n_tok(p) + n_tok(format_answer(c)) + 1 for p, _, c in rows]
    b = cfg.sft_batch_size

    def padded(order):
        return sum(max(lengths[i] for i in order[j:j + b]) * len(order[j:j + b]) for j in range(0, len(order), b))

    out["real_over_padded_tokens"] = {
        f"bucket_{k}": sum(lengths) / (sum(padded(epoch_order(lengths, b, k, seed)) for seed in range(5)) / 5)
        for k in (1, 4, 8)}
    return out


def phase_compare(args) -> dict:
    """SFT vs each RL model vs each other over several pipeline runs (e.g. the two rl-long commands), from
    their results.json files; writes --out/train_compare.json."""
    from drtriton.train.pipeline import combine_runs

    if not args.runs:
        raise SystemExit("compare needs --runs A/results.json B/results.json")
    return {"phase": "compare", "runs": [str(p) for p in args.runs],
            **combine_runs([json.loads(Path(p).read_text()) for p in args.runs])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=["pipeline", "rewardcheck", "scale7b", "targets", "compare", "passk"])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")),
                    help="pipeline: results folder (default $OUT); scale7b: folder of train_scale7b.json")
    ap.add_argument("--work", type=Path, help="pipeline: models and checkpoints (default runs/pipeline)")
    ap.add_argument("--smoke", action="store_true", help="pipeline: CPU dry run of every phase at toy sizes")
    ap.add_argument("--budget-s", type=float, help="pipeline: wall-time budget of the whole run (default 545)")
    ap.add_argument("--budget", action="append", metavar="PHASE=S",
                    help="pipeline: one phase's budget in seconds (data, sft, probe_sft, rl_drpo, rl_grpo, eval)")
    ap.add_argument("--heldout-n", type=int, help="pipeline: held-out tasks per level (default 64)")
    ap.add_argument("--eval-levels", type=int, nargs="+", help="pipeline: held-out / RL levels (default 1 2)")
    ap.add_argument("--rl-lr", type=float, help="pipeline: RL learning rate (default 2e-5)")
    ap.add_argument("--save-sft", type=Path,
                    help="pipeline: after SFT, save the SFT model (bf16) and the run's tasks to this folder")
    ap.add_argument("--init-sft", type=Path,
                    help="pipeline: start from a --save-sft folder (no data or SFT phase); default budgets "
                         "probe 60, DRPO 170, GRPO 170, eval 145 s")
    ap.add_argument("--save-rl", type=Path,
                    help="pipeline: after RL (one --algo), save the policy (bf16) and its step count to this folder")
    ap.add_argument("--init-rl", type=Path,
                    help="pipeline: continue RL from a --save-rl folder (with --init-sft of the same run and its "
                         "--algo); the SFT model stays the KL reference, Adam starts afresh")
    ap.add_argument("--stop-after", choices=["data", "sft", "probe_sft", "rl_drpo", "rl_grpo", "eval"],
                    help="pipeline: end the run after this phase (with --save-sft sft: SFT gets the budget)")
    ap.add_argument("--preset", choices=["rl-long"],
                    help="pipeline: rl-long = RL only from --init-sft, one --algo per command (~400 s of RL), "
                         "then SFT vs SFT+algo on level 1 in the same command")
    ap.add_argument("--algo", choices=["drpo", "grpo"], help="pipeline: run only this RL algorithm")
    ap.add_argument("--no-canonical", action="store_true",
                    help="pipeline: SFT on the code generator's answers as written (no canonical_solution rewrite)")
    ap.add_argument("--rl-reward", choices=["fast", "verifier"],
                    help="pipeline: RL reward check (default fast: static rules + in-process correctness)")
    ap.add_argument("--workers", type=int, help="pipeline: synthesizer/verifier processes (default CPUs - 2)")
    ap.add_argument("--set", action="append", metavar="FIELD=VALUE",
                    help="pipeline: any PipelineConfig field, e.g. --set rl_prompts_per_step=8 --set rl_ref_kl=0.1")
    ap.add_argument("--seed", type=int, help="pipeline: seed of data, init and sampling (default 0)")
    ap.add_argument("--runs", type=Path, nargs="+", help="compare: results.json of pipeline runs (SFT from the first)")
    ap.add_argument("--n-kernels", type=int, default=37, help="rewardcheck: honest kernels to check")
    ap.add_argument("--prompt-len", type=int, default=512, help="scale7b: prompt tokens")
    ap.add_argument("--new-tokens", type=int, default=256, help="scale7b: generated tokens per rollout")
    ap.add_argument("--n-programs", type=int, default=80, help="targets: programs drawn (at the level mix)")
    ap.add_argument("--arch", default="qwen2.5-7b", help="scale7b: built-in architecture (test: CPU dry run)")
    ap.add_argument("--samples", type=int, default=8, help="passk: sampled answers per held-out task")
    ap.add_argument("--temperature", type=float, default=0.5, help="passk: sampling temperature (RL's: 0.5)")
    args = ap.parse_args()
    if args.smoke:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    t0 = time.time()
    result = {"pipeline": phase_pipeline, "rewardcheck": phase_rewardcheck, "scale7b": phase_scale7b,
              "targets": phase_targets, "compare": phase_compare, "passk": phase_passk}[args.phase](args)
    result.setdefault("seconds", time.time() - t0)
    result["provenance"] = Provenance.here().to_json()
    if args.phase in ("scale7b", "rewardcheck", "targets", "compare", "passk"):
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"train_{args.phase}.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    from drtriton.util.errors import UsageError

    try:
        sys.exit(main())
    except UsageError as exc:
        print(f"train_gpu.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
