"""The whole training story in one command under a wall-clock budget: draw data (held-out sets, checked SFT
pairs, RL prompts), train a tokenizer and the tiny model from scratch (SFT), probe it, run DRPO and GRPO
from it on the same prompts for the same number of steps, evaluate all three (and the code generator) with
the sandboxed verifier, write results.json and plots.

    python bench/train_gpu.py pipeline --out $OUT/train            # one H100, about 9 minutes
    python bench/train_gpu.py pipeline --out /tmp/p --smoke         # CPU dry run (Triton interpreter)
    # or in two commands: data + SFT (saved, bf16), then probe + DRPO + GRPO + evaluation from it
    python bench/train_gpu.py pipeline --out $OUT/a --save-sft $OUT/sft --stop-after sft
    python bench/train_gpu.py pipeline --out $OUT/b --init-sft $OUT/sft
    # or RL only, one algorithm per command (~400 s of RL each), SFT vs SFT+algo evaluated in each
    python bench/train_gpu.py pipeline --out $OUT/d --init-sft $OUT/sft --preset rl-long --algo drpo

Each phase has a time budget; at it the phase stops (training keeps its last state and exports a final
model) and the next one starts. A failed phase is recorded with its error line, phases that need it are
skipped, and results.json is rewritten after every phase. Models and checkpoints live in `work`; `out`
gets only small files (JSON, CSV, TensorBoard events, PNG, the evaluated answers).

Held-out evaluation: one greedy answer per task; every answer goes through the fast check (fastcheck.py:
static rules + 2 normal input draws at 1e-4), whose pass rate is `fast_correct_rate`; answers it did not
reject outright (correct, timeout, runtime error) then go to the sandboxed verifier, which gives
`correct_rate` and `fast_1` for a (model, level) once every such answer has a verdict (else None).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drtriton.train.data import HELDOUT_SEED_BASE, ListStream, RevisitStream, write_jsonl
from drtriton.train.datagen import Job, ParallelDraws
from drtriton.train.prompt import build_prompt, format_answer
from drtriton.train.rewards import status_of
from drtriton.util.errors import UsageError
from drtriton.util.fileio import atomic_write_text
from drtriton.util.gpu import release_gpu_memory
from drtriton.util.provenance import Provenance
from drtriton.util.stats import quantile

PHASES = ("data", "sft", "probe_sft", "rl_drpo", "rl_grpo", "eval")
# Share of the probe's and the evaluation's budgets spent generating answers; the rest checks them.
GENERATE_SHARE = {"probe_sft": 0.6, "eval": 0.5}
MARKER = ".drtriton_pipeline"  # a work folder we made (and so may clear)
# Fast-check statuses final at evaluation: the answer is shown wrong (or broke a static rule) on a valid
# input, so the verifier is not asked. Correct answers, timeouts and runtime errors (a worker can die of
# another answer's crash) go on to the sandboxed verifier.
FAST_FINAL = frozenset({"format_error", "cheat_detected", "compile_error", "incorrect"})
SFT_STATE = "pipeline_state.json"  # save_sft / init_sft: tasks, caps and SFT's results beside the model
RL_STATE = "rl_state.json"  # save_rl / init_rl: the algorithm and RL steps so far beside the policy


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of the run; the defaults are the H100 run (16 CPU cores, 10-minute command limit)."""

    out: Path = Path("out/train")  # results.json, plots, CSV and TensorBoard logs
    work: Path = Path("runs/pipeline")  # models and checkpoints (large: never under out)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda (the policy and the verifier)
    levels: tuple[int, ...] = (1, 2, 5)  # SFT data levels
    # Held-out sets, the probe, RL prompts and the evaluation. Level 5 is optional: add it for a look (SFT
    # solved none of it so far, and its answers are the longest to generate).
    eval_levels: tuple[int, ...] = (1, 2)
    scale: str = "realistic"  # synthesizer shapes: KernelBench-like on the GPU, small for CPU runs
    # Tasks per evaluated level, the same for every model. At 16 one task was 6.25 points, and a 10-point
    # change was 1.6 tasks; at 64 the binomial standard error of a 40% rate is ~6 points per level (paired
    # counts of tasks RL fixed / broke are in `comparison`).
    heldout_n: int = 64
    # Also verify the code generator's answers to the held-out tasks (the ceiling; session 3 measured 88%
    # at level 1). Off by default: the sandboxed verifier's time goes to the three models.
    eval_teacher: bool = False
    # Most SFT programs drawn. The first H100 run drew all 900 in 55 s and trained 15 epochs on 797 pairs
    # (memorised: held-out correct 0): the pool now keeps drawing through the whole SFT phase.
    sft_tasks: int = 6000
    # Share of SFT programs per level (of `levels`). Levels 1-2, where RL can find reward variance, get most
    # of SFT's steps: a level-5 answer is ~3x a level-1 one in tokens, so at 0.2 it took ~40% of SFT's compute.
    sft_level_weights: tuple[float, ...] = (0.55, 0.35, 0.1)
    # The data phase ends once the held-out and RL draws are in and this many SFT pairs passed their check
    # (or at its budget); the rest arrive while SFT trains (draw_during_sft).
    sft_min_pairs: int = 400
    # SFT targets rewritten by datagen.canonical_solution (kernels k0, k1, ...; output shapes, grids and
    # kernel sizes as products of the program's size names), kept only when the rewrite passes the check.
    sft_canonical: bool = True
    rl_tasks_per_level: int = 96  # RL prompts drawn per evaluated level, shared by DRPO and GRPO
    # More RL prompts per evaluated level, drawn by a background pool while the probe runs (seeds after the
    # first rl_tasks_per_level; never a held-out hash). For runs from `init_sft`, whose saved tasks are
    # fixed: the level-1 space is small (most of SFT's level-1 draws were repeats), and an SFT model that
    # solves ~1 task in 3 has few prompts with mixed groups among 78. Never a program SFT trained on (a
    # save_sft folder lists those since session 13; from an older folder they may repeat SFT programs).
    rl_extra_tasks: int = 0
    # Share of each evaluated level's programs (by canonical hash, a fixed partition) kept for RL: an SFT
    # draw that lands there becomes an RL prompt instead of an SFT pair, so RL practises on programs SFT
    # never showed, as the held-out tasks are. At level 1 the space is small (session 12: 1,309 of 2,111
    # SFT draws repeated a program already taken), and extra RL draws were mostly programs SFT had
    # trained on: RL rewarded recall there (training rollouts 44% -> 55% correct) while held-out answers
    # did not improve. 0: no reserve (RL prompts are the data phase's RL draws plus rl_extra_tasks).
    rl_reserve_share: float = 0.0
    # RL phases to run, in this order (one per command is how a 10-minute limit gives each ~400 s).
    rl_algos: tuple[str, ...] = ("drpo", "grpo")
    # Share of each RL batch given to prompts whose last group was mixed (data.RevisitStream); 0: the prompt
    # list in order (data.ListStream). Groups with one outcome teach neither DRPO nor GRPO.
    rl_revisit_share: float = 0.5
    rl_signal_only: bool = True  # rl.signal_only: updates score only the groups with signal
    # rl.gen_dtype: "auto" samples rollouts with a bf16 copy of the policy on CUDA (bench/gen_speed.py: 4.9x
    # the fp32 policy's tokens/s at 1,024 rollouts per call on the H100) and with the policy itself on CPU;
    # evaluation and the probe decode with the fp32 model either way.
    rl_gen_dtype: str = "auto"
    draw_during_sft: bool = True  # keep drawing SFT pairs on the CPU cores while the GPU trains on them
    model: str = "tiny"  # built-in architecture (models.BUILTIN_MODELS)
    vocab_size: int = 8192  # BPE trained here on the SFT pairs
    sft_lr: float = 1e-3  # from scratch: a large lr (cosine to 0 at the time budget)
    sft_batch_size: int = 16
    sft_bucket: int = 8  # length-sorted windows of this many batches (sft.bucket): less padding
    sft_max_len: int = 3072  # prompt + answer tokens; longer pairs are dropped, not truncated
    sft_warmup_steps: int = 30
    sft_max_steps: int = 100_000  # the time budget ends SFT first
    rl_rollouts: int = 8  # the paper's group size
    # 16 prompts x 8 rollouts in one generate() call: generation of a 14M model is per-token overhead (a
    # batch lasts as long as its longest answer), so twice the prompts cost little more generation time and
    # give twice the groups with signal per update; the reward check deduplicates repeated answers.
    rl_prompts_per_step: int = 16
    # Session 4's 1e-4 (14 updates) cut SFT's held-out level-1 rate from 37.5% to 19% (DRPO) and 12.5%
    # (GRPO): each Adam step moves every weight by ~lr, noise included. A smaller step, warmed up, with a
    # KL anchor to the SFT policy and more steps in the budget instead.
    rl_lr: float = 2e-5
    rl_warmup_steps: int = 3  # RL steps of linear lr warm-up (Adam's first steps are sign(gradient) steps)
    rl_ref_kl: float = 0.05  # rl.ref_kl: KL(pi || pi_SFT) penalty, the same for DRPO and GRPO
    # 4 optimizer steps per rollout batch (PPO-style epochs; was 2): an update of 128 sequences of ~1,200
    # tokens is ~13 TFLOP for the tiny model (estimated, well under a second on an H100) while a batch costs
    # a generation and a check; from the second on, DRPO's trust region and GRPO's ratio clip bound how
    # far one batch moves the policy.
    rl_updates_per_batch: int = 4
    # Rollouts near the greedy answer that evaluation scores (evaluation decodes greedily, one answer per
    # task), so what RL reinforces is what evaluation sees. At 0.7 the H100 run of 56cf191 sampled 0-5.5%
    # correct rollouts per step at level 1 where greedy answers to held-out tasks of the level were 25-30%
    # correct: groups almost never had reward variance (GRPO: none in 11 steps). 0.5 is not yet measured.
    rl_temperature: float = 0.5
    rl_max_steps: int = 200  # the time budget ends RL first; GRPO then runs as many as DRPO did
    rl_eval_every: int = 4  # curriculum evaluations (held-out pass@1 at the current level) when rl_eval_n > 0
    # 0: no curriculum evaluation inside RL (RL stays at the probe's start level): each one cost a greedy
    # generation and a check of held-out tasks (~10% of an RL phase), and held-out tasks stay for the final
    # evaluation only.
    rl_eval_n: int = 0
    max_new_tokens: int = 2048  # cap on any answer
    answer_slack: float = 1.15  # per-level answer cap = slack x the longest SFT answer at that level
    # RL rollouts' cap: slack x this quantile of the level's SFT answer lengths (evaluation keeps the cap
    # above). A batch lasts as long as its longest sample, so a lower quantile saves generation time, but
    # 0.9 cut level 1 at 781 tokens where SFT answers reach 961: 9-28% of rollouts per step were truncated
    # format errors in the run of 56cf191 (zero reward for the longest answers' tasks, always). 1.0 keeps
    # the evaluation cap.
    rl_answer_quantile: float = 1.0
    verify: dict = field(default_factory=lambda: {
        # 2 seeds x 2 input distributions: the verifier's cost grows with the cases it ships and compares.
        "policy": "mixed", "device": "auto", "seeds": [0, 1], "distributions": ["normal", "heavy_tailed"],
        # fast_1 is against eager; torch.compile baselines would cost more than the whole RL phase.
        "time_compile_baseline": False, "n_timing": 20, "warmup": 3,
        "timeout_s": 30.0})  # a hung rollout must not stall an RL step for long
    workers: int | None = None  # synthesizer and verifier processes; None: CPU count - 2
    # The whole run: 545 s of phases (session 4's 510 s budget took 522 s of wall time: imports, plots), so
    # ~560 s: the 10-minute command keeps ~40 s of slack.
    budget_s: float = 545.0
    # Share of its own budget each later phase is sure to keep when an earlier one runs long (budget()).
    # 1.0 makes every phase but the last elastic one fixed: `--preset rl-long` gives RL what the probe and the
    # evaluation leave, so a slow start (a cold build) shortens RL, never the baseline or the evaluation.
    later_phase_reserve: float = 0.5
    # RL phases: ~12 s load + export, the rest training. The probe generates SFT's held-out answers (kept
    # for the evaluation), fast-checks them and starts the verifier on the ones that passed; the evaluation
    # generates DRPO's and GRPO's answers (half its budget), then fast check and verifier.
    budgets: dict = field(default_factory=lambda: {
        "data": 40.0, "sft": 140.0, "probe_sft": 55.0, "rl_drpo": 100.0, "rl_grpo": 100.0, "eval": 110.0})
    # RL rewards: "fast" (fastcheck.py: static rules + correctness in persistent workers, ~no per-answer
    # process start) or "verifier" (the sandboxed verifier, ~48 answers/min on the H100: a few RL steps).
    rl_reward: str = "fast"
    fast_timeout_s: float = 30.0  # per answer in the fast check (Triton compiles of several kernels fit)
    # Two commands instead of one: `save_sft` keeps the SFT model (bf16, ~27 MB for the tiny model) with the
    # held-out and RL tasks and answer caps; `init_sft` starts a run from such a folder (no data, no SFT).
    save_sft: Path | None = None
    init_sft: Path | None = None
    stop_after: str | None = None  # a phase name: the run ends after it (e.g. "sft" with save_sft)
    # RL longer than one 10-minute command: `save_rl` keeps the RL policy (bf16) and its step count after the
    # RL phase; `init_rl` (with init_sft, one algorithm) starts the RL phase from such a folder instead of
    # the SFT model, with the SFT model still the KL reference. Adam's moments are not kept (~110 MB for
    # the tiny model, past what a command can carry): each command starts them afresh, after its warm-up.
    save_rl: Path | None = None
    init_rl: Path | None = None

    def __post_init__(self) -> None:
        if len(self.sft_level_weights) != len(self.levels):
            raise UsageError(f"sft_level_weights needs one weight per level {list(self.levels)}, got "
                             f"{list(self.sft_level_weights)}")
        unknown = sorted(set(self.budgets) - set(PHASES))
        if unknown:
            raise UsageError(f"budgets has unknown phase(s) {unknown}; phases are {list(PHASES)}")
        if self.rl_reward not in ("fast", "verifier"):
            raise UsageError(f"rl_reward must be fast or verifier, got {self.rl_reward!r}")
        if not 0.0 < self.rl_answer_quantile <= 1.0:
            raise UsageError(f"rl_answer_quantile must be in (0, 1], got {self.rl_answer_quantile}")
        if self.budget_s <= 0 or self.heldout_n < 1:
            raise UsageError(f"budget_s and heldout_n must be positive, got {self.budget_s}, {self.heldout_n}")
        if not self.eval_levels or not set(self.eval_levels) <= set(self.levels):
            raise UsageError(f"eval_levels must be some of levels {list(self.levels)}, got {list(self.eval_levels)}")
        if self.stop_after is not None and self.stop_after not in PHASES:
            raise UsageError(f"stop_after must be a phase ({list(PHASES)}), got {self.stop_after!r}")
        if self.init_sft is not None and self.save_sft is not None:
            raise UsageError("pass save_sft (first command) or init_sft (second command), not both")
        if self.init_rl is not None and (self.init_sft is None or len(self.rl_algos) != 1):
            raise UsageError("init_rl continues one algorithm's RL from an earlier run: pass init_sft (the SFT "
                             "folder of that run) and exactly one of rl_algos")
        if self.save_rl is not None and len(self.rl_algos) != 1:
            raise UsageError("save_rl keeps one RL policy: run exactly one of rl_algos")
        if not self.rl_algos or not set(self.rl_algos) <= {"drpo", "grpo"}:
            raise UsageError(f"rl_algos must be some of drpo, grpo, got {list(self.rl_algos)}")
        if not 0.0 <= self.later_phase_reserve <= 1.0:
            raise UsageError(f"later_phase_reserve must be in [0, 1], got {self.later_phase_reserve}")
        if self.rl_gen_dtype not in ("auto", "model", "bfloat16"):
            raise UsageError(f"rl_gen_dtype must be auto, model or bfloat16, got {self.rl_gen_dtype!r}")
        if not 0.0 <= self.rl_reserve_share < 1.0:
            raise UsageError(f"rl_reserve_share must be in [0, 1), got {self.rl_reserve_share}")
        if not 0.0 <= self.rl_revisit_share <= 1.0 or self.rl_extra_tasks < 0:
            raise UsageError(f"rl_revisit_share must be in [0, 1] and rl_extra_tasks >= 0, got "
                             f"{self.rl_revisit_share}, {self.rl_extra_tasks}")

    @staticmethod
    def smoke(out: Path, work: Path) -> PipelineConfig:
        """A CPU dry run of every phase: 2-layer model, small shapes, one task per held-out set."""
        return PipelineConfig(
            out=out, work=work, device="cpu", scale="small", eval_levels=(1, 2, 5), heldout_n=1,
            eval_teacher=True, sft_tasks=6, sft_min_pairs=6,
            rl_tasks_per_level=2,
            model="test", vocab_size=600, sft_batch_size=2, sft_max_len=2048, sft_warmup_steps=1,
            sft_max_steps=4, rl_rollouts=2, rl_prompts_per_step=1, rl_max_steps=2, rl_eval_every=1,
            rl_eval_n=1, max_new_tokens=24, workers=2,
            verify={"policy": "mixed", "device": "cpu", "seeds": [0], "distributions": ["normal"],
                    "time_compile_baseline": False, "timeout_s": 120.0},
            budget_s=480.0, budgets={"data": 120.0, "sft": 60.0, "probe_sft": 60.0, "rl_drpo": 45.0,
                                     "rl_grpo": 45.0, "eval": 90.0})


def in_rl_reserve(task_hash: str, share: float) -> bool:
    """Whether a program (by its canonical hash, hex) is in the RL reserve: the first 32 bits of the hash
    as a fraction below `share`. A fixed partition of the program space, the same in every run."""
    return share > 0.0 and int(task_hash[:8], 16) < share * 2**32


def _log(t0: float, msg: str) -> None:
    print(f"[{time.time() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class Pipeline:
    def __init__(self, cfg: PipelineConfig):
        self.cfg = cfg
        self.t0 = time.time()
        self.workers = cfg.workers or max(2, (os.cpu_count() or 4) - 2)
        self.results: dict = {"config": _jsonable(asdict(cfg)), "workers": self.workers, "phases": {},
                              "provenance": Provenance.here().to_json()}
        self.heldout: dict[int, list[dict]] = {}
        self.teacher: dict[str, str] = {}  # held-out hash -> the code generator's answer
        self.rl_tasks: dict[int, list[dict]] = {}
        self.pairs: list[dict] = []
        self.caps: dict[int, int] = {}  # held-out answers (evaluation, probe)
        self.rl_caps: dict[int, int] = {}  # RL rollouts
        self.pool = None
        self.draws = None  # the data phase's process pool; SFT keeps taking pairs from it
        self.excluded: set[str] = set()  # held-out and RL task hashes, then every SFT program taken
        self.sft_hashes: set[str] = set()  # programs SFT trained on (RL prompts never repeat one)
        self.sft_counts: dict = {}
        self.fast = None  # fastcheck.FastChecker: RL rewards (rl_reward: fast)
        self.generated: dict[tuple[str, int], list[str]] = {}  # (model, level) -> greedy held-out answers
        self.loaded: dict[str, tuple] = {}  # model name -> (folder, model, tokenizer) while generating
        self.statuses: dict[tuple, dict] = {}  # (model, level, hash) -> its verdict record

    # ---- bookkeeping ----
    def log(self, msg: str) -> None:
        _log(self.t0, msg)

    def own_budget(self, phase: str) -> float:
        """The configured budget; SFT's also gets what the data phase left unused (that phase ends early once
        SFT has enough pairs, and its pool goes on drawing while SFT trains)."""
        own = self.cfg.budgets.get(phase, 0.0)
        data = self.results["phases"].get("data") or {}
        if phase == "sft" and data.get("status") == "ok" and data.get("seconds") is not None:
            own += max(0.0, self.cfg.budgets.get("data", 0.0) - data["seconds"])
        return own

    def budget(self, phase: str) -> float:
        """The phase's own budget, cut so every later phase that runs (up to stop_after) keeps half of its own."""
        last = PHASES.index(self.cfg.stop_after) if self.cfg.stop_after else len(PHASES) - 1
        later = [p for p in PHASES[PHASES.index(phase) + 1: last + 1]
                 if not p.startswith("rl_") or p[3:] in self.cfg.rl_algos]
        reserve = sum(self.cfg.later_phase_reserve * self.cfg.budgets.get(p, 0.0) for p in later)
        left = self.cfg.budget_s - (time.time() - self.t0) - reserve
        return max(0.0, min(self.own_budget(phase), left))

    def save(self) -> None:
        self.results["seconds"] = time.time() - self.t0
        self.cfg.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.cfg.out / "results.json", json.dumps(_jsonable(self.results), indent=1))

    def run_phase(self, name: str, fn: Callable[[float], dict], needs: tuple[str, ...] = ()) -> None:
        rec = {"status": "skipped", "budget_s": None, "seconds": None, "error": None}
        self.results["phases"][name] = rec
        missing = [n for n in needs if self.results["phases"].get(n, {}).get("status") != "ok"]
        budget = self.budget(name)
        rec["budget_s"] = budget
        if missing:
            rec["error"] = f"needs phase(s) {missing}, which did not finish"
        elif budget <= 1.0:
            rec["error"] = "no time left in the run's budget"
        else:
            self.log(f"{name}: start (budget {budget:.0f} s)")
            t = time.time()
            try:
                self.results[name] = fn(budget)
                rec["status"] = "ok"
            except Exception as exc:  # noqa: BLE001 - one failed phase must not lose the others' results
                rec["status"] = "failed"
                rec["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
                rec["traceback_tail"] = traceback.format_exc().splitlines()[-6:]
            rec["seconds"] = time.time() - t
            release_gpu_memory()  # a phase's models and activations are gone: their cached blocks go back too
            self.log(f"{name}: {rec['status']} in {rec['seconds']:.1f} s {rec['error'] or ''}")
        self.save()

    # ---- phases ----
    def phase_data(self, budget: float) -> dict:
        c = self.cfg
        n_held = c.heldout_n + c.heldout_n // 2 + 2  # spare seeds: duplicates are dropped by hash
        jobs = [Job("heldout", lv, HELDOUT_SEED_BASE + lv * 1_000_003 + i, solve=c.eval_teacher, check=False)
                for lv in c.eval_levels for i in range(n_held)]
        jobs += [Job("rl", lv, c.seed * 1_000_000_007 + lv * 100_003 + k)
                 for k in range(1, c.rl_tasks_per_level + 1) for lv in c.eval_levels]
        total_w = sum(c.sft_level_weights)
        per_level = {lv: max(1, round(c.sft_tasks * w / total_w)) for lv, w in zip(c.levels, c.sft_level_weights)}
        sft_jobs = {lv: [Job("sft", lv, (c.seed + 1) * 1_000_000_007 + lv * 100_003 + k, solve=True,
                             canonical=c.sft_canonical) for k in range(1, n + 1)] for lv, n in per_level.items()}
        # Interleave levels by weight, so a budget cut keeps the mix.
        order = sorted((k / per_level[lv], lv, k) for lv in per_level for k in range(per_level[lv]))
        jobs += [sft_jobs[lv][k] for _, lv, k in order]
        done_n, first = [0], sum(j.kind != "sft" for j in jobs)
        got = {"first": 0, "pairs": 0}  # held-out and RL draws finished; SFT draws that passed their check

        def on_done(d):
            done_n[0] += 1
            got["first"] += d.job.kind != "sft"
            got["pairs"] += d.job.kind == "sft" and d.solution is not None and d.check is None
            if done_n[0] % 50 == 0:
                self.log(f"data: {done_n[0]} of {len(jobs)} draws")

        def enough() -> bool:  # SFT can start; the pool goes on drawing while it trains
            return c.draw_during_sft and got["first"] >= first and got["pairs"] >= c.sft_min_pairs

        self.draws = ParallelDraws(jobs, c.scale, self.workers, self._device())
        drawn = self.draws.collect(time.time() + budget, on_done, enough=enough)
        counts: dict = {"jobs": len(jobs), "finished": len(drawn), "errors": sum(d.error is not None for d in drawn)}
        for lv in c.eval_levels:
            got = [d for d in drawn if d.job.kind == "heldout" and d.job.level == lv and d.task]
            seen: dict[str, dict] = {}
            for d in sorted(got, key=lambda d: d.job.seed):
                if len(seen) < c.heldout_n:
                    seen.setdefault(d.task["hash"], d.task)
                    if d.solution and d.task["hash"] not in self.teacher:
                        self.teacher[d.task["hash"]] = d.solution
            self.heldout[lv] = list(seen.values())
        self.excluded = {t["hash"] for ts in self.heldout.values() for t in ts}
        for lv in c.eval_levels:
            uniq: dict[str, dict] = {}
            for d in drawn:
                if d.job.kind == "rl" and d.job.level == lv and d.task and d.task["hash"] not in self.excluded:
                    uniq.setdefault(d.task["hash"], d.task)
            self.rl_tasks[lv] = list(uniq.values())
        self.excluded |= {t["hash"] for ts in self.rl_tasks.values() for t in ts}  # RL prompts stay unseen
        self.pairs = self._sft_pairs(drawn)
        counts.update({"heldout": {lv: len(v) for lv, v in self.heldout.items()},
                       "teacher_answers": len(self.teacher),
                       "rl_tasks": {lv: len(v) for lv, v in self.rl_tasks.items()}, "sft": self.sft_counts,
                       "sft_pairs": len(self.pairs), "sft_jobs_left": self.draws.pending,
                       "draw_seconds_mean": _mean([d.seconds for d in drawn])})
        if not c.draw_during_sft:
            self.draws.close()
        if not self.pairs:
            raise RuntimeError(f"no SFT pair passed its check in {budget:.0f} s ({self.sft_counts}); "
                               "raise the data budget")
        return counts

    def _sft_pairs(self, drawn: list) -> list[dict]:
        """SFT pairs from finished draws: checked, never a held-out or RL task, one per program."""
        out = []
        for d in drawn:
            if d.job.kind != "sft":
                continue
            row = self.sft_counts.setdefault(d.job.level, {"drawn": 0, "compiled": 0, "checked": 0, "excluded": 0,
                                                           "canonical": 0, "canonical_failed": 0, "direct": 0, "shape_free": 0,
                                                           "failures": {}})
            row["drawn"] += d.task is not None
            row["compiled"] += d.solution is not None
            row["canonical_failed"] += d.extra.get("canonical") is False  # rewrite failed: original kept
            if d.task is None or d.solution is None or d.check is not None:
                key = (d.error or d.check or "unknown").split(":")[0][:60]
                row["failures"][key] = row["failures"].get(key, 0) + 1
                continue
            h = d.task["hash"]
            if h in self.excluded:
                row["excluded"] += 1
                continue
            self.excluded.add(h)
            if d.job.level in self.cfg.eval_levels and in_rl_reserve(h, self.cfg.rl_reserve_share):
                row["reserved_for_rl"] = row.get("reserved_for_rl", 0) + 1
                self.rl_tasks.setdefault(d.job.level, []).append(d.task)
                continue
            self.sft_hashes.add(h)
            row["checked"] += 1
            row["canonical"] += bool(d.extra.get("canonical"))
            row["direct"] += bool(d.extra.get("direct"))  # _Launcher sites written as plain launches
            row["shape_free"] += bool(d.extra.get("shape_free"))  # empty_like / numel() instead of sizes
            out.append({"hash": h, "level": d.job.level, "program": d.task["program"],
                        "prompt": build_prompt(d.task["program"]),
                        "completion": format_answer(d.solution), "verified": "inprocess"})
        return out

    def phase_sft(self, budget: float) -> dict:
        import torch

        from drtriton.train.models import load_tokenizer, train_tokenizer
        from drtriton.train.sft import run_sft

        c = self.cfg
        t = time.time()
        tok_dir = c.work / "tok"
        tok = (load_tokenizer(tok_dir) if (tok_dir / "tokenizer.json").is_file() else
               train_tokenizer([p["prompt"] + p["completion"] for p in self.pairs], c.vocab_size, tok_dir))
        lengths: dict[int, list[int]] = {}
        dropped = [0]

        def fits(pairs: list[dict]) -> list[dict]:
            kept = []
            for p in pairs:
                n_p = len(tok(p["prompt"], add_special_tokens=False).input_ids)
                n_c = len(tok(p["completion"], add_special_tokens=False).input_ids) + 1
                if n_p + n_c <= c.sft_max_len:
                    kept.append(p)
                    lengths.setdefault(p["level"], []).append(n_c)
                else:
                    dropped[0] += 1
            return kept

        added = [0]

        def more_pairs() -> list[dict]:
            if self.draws is None:
                return []
            new = fits(self._sft_pairs(self.draws.poll()))
            added[0] += len(new)
            return new

        kept = fits(self.pairs)
        pairs_path = c.work / "sft_pairs.jsonl"
        write_jsonl(pairs_path, kept)
        cfg = self._run_config("sft", {
            "model.builtin": c.model, "model.tokenizer_dir": str(tok_dir), "model.vocab_size": c.vocab_size,
            "data.sft_pairs": str(pairs_path), "sft.backend": "native", "sft.lr": c.sft_lr,
            "sft.batch_size": c.sft_batch_size, "sft.bucket": c.sft_bucket, "sft.max_len": c.sft_max_len,
            "sft.max_steps": c.sft_max_steps,
            "sft.warmup_steps": c.sft_warmup_steps, "sft.save_every": 10**9, "sft.log_every": 10,
            "sft.max_seconds": max(1.0, budget - (time.time() - t) - 8.0)})  # 8 s: final export
        ws = self._workspace(cfg)
        try:
            r = run_sft(cfg, ws=ws, more_pairs=more_pairs if c.draw_during_sft else None)
        finally:
            if self.draws is not None:
                self.draws.close()  # the CPU cores go to the verifier from here on
        self._copy_logs(cfg.run_dir, "sft")
        self.sft_dir = r.final_dir
        # Answer caps: the longest SFT answer of the level, with slack (no held-out answer is cut shorter
        # than the code generator's would be, unless it is the longest of all).
        self.caps = {lv: min(c.max_new_tokens, math.ceil(max(v) * c.answer_slack)) for lv, v in lengths.items()}
        self.rl_caps = {lv: min(self.caps[lv], math.ceil(quantile(v, c.rl_answer_quantile) * c.answer_slack))
                        for lv, v in lengths.items()}
        for lv in c.levels:
            self.caps.setdefault(lv, c.max_new_tokens)
            self.rl_caps.setdefault(lv, self.caps[lv])
        tokens = sum(sum(v) for v in lengths.values())
        # the exported folder must encode as SFT did (transformers 5.23's AutoTokenizer did not: docs/TRAINING.md)
        import transformers

        reloaded = load_tokenizer(r.final_dir)
        same = all(reloaded(x["prompt"] + x["completion"], add_special_tokens=False).input_ids
                   == tok(x["prompt"] + x["completion"], add_special_tokens=False).input_ids for x in kept[:32])
        return {"pairs": r.n_pairs, "tokenizer_reload_identical": same, "transformers": transformers.__version__, "pairs_added_while_training": added[0], "dropped_too_long": dropped[0],
                "data_counts": self.sft_counts, "params": r.params,
                "steps": r.steps, "final_loss": r.final_loss, "backend": r.backend, "seconds": r.seconds,
                "answer_tokens": {lv: {"max": max(v), "mean": _mean(v)} for lv, v in lengths.items()},
                "answer_caps": self.caps, "rl_answer_caps": self.rl_caps, "answer_tokens_total": tokens,
                "epochs": (r.steps * c.sft_batch_size / r.n_pairs) if r.n_pairs else None,
                "device": torch.cuda.get_device_name(0) if self._device() == "cuda" else "cpu"}

    def phase_probe_sft(self, budget: float) -> dict:
        """Greedy SFT answers to every held-out task (kept for the final evaluation), scored by the fast check:
        where RL starts (rl_start_level). Time left goes to the sandboxed verifier on the answers that
        passed (its verdicts are cached for the evaluation)."""
        from drtriton.train.evaluate import verify_answers

        deadline = time.time() + budget
        self._fast_checker().warm()  # its workers start while the GPU generates
        # answers stop at 60% of the phase: checking them needs the rest (the first H100 run with longer
        # answers spent 44 s of a 40 s probe generating, so no level was scored)
        until = time.time() + GENERATE_SHARE["probe_sft"] * budget
        for lv in self.cfg.eval_levels:  # each level's answers are checked while the next level generates
            self._generate("sft", self.sft_dir, until, levels=[lv])
            self._screen_in_background("sft", lv)
        self._wait_screens(deadline)
        out: dict = {"reward_check": "fast", "levels": {}}
        screen = self._screen()
        for lv in self.cfg.eval_levels:
            got = self.generated.get(("sft", lv))
            if got is None or time.time() > deadline:
                out["levels"][lv] = None
                continue
            r = verify_answers(self.heldout[lv], got, screen)
            out["levels"][lv] = {k: getattr(r, k) for k in ("n", "format_error_rate", "compile_rate", "correct_rate")}
            out["levels"][lv]["statuses"] = r.statuses
        # The same on tasks SFT trained on (first level), when time is left: trained tasks wrong as well means
        # a train/eval mismatch or too little training; right while held-out ones fail means no generalisation.
        lv = self.cfg.eval_levels[0]
        seen = [{"hash": p["hash"], "program": p["program"]} for p in self.pairs
                if p["level"] == lv and "program" in p][:16]
        out["trained_tasks"] = None
        if seen and "sft" in self.loaded and time.time() < deadline - 0.35 * budget:
            from drtriton.train.evaluate import generate_answers

            _, model, tok = self.loaded["sft"]
            answers = generate_answers(model, tok, seen, self.caps.get(lv, self.cfg.max_new_tokens),
                                       batch_size=len(seen))
            r = verify_answers(seen, answers, screen)
            out["trained_tasks"] = {"level": lv, "n": r.n, "compile_rate": r.compile_rate,
                                    "correct_rate": r.correct_rate, "statuses": r.statuses}
        self.loaded.clear()
        release_gpu_memory()  # the verifier's workers share this GPU
        start = rl_start_level(self.cfg.eval_levels,
                               {lv: (r or {}).get("correct_rate") for lv, r in out["levels"].items()})
        self.start_level = start
        out["rl_start_level"] = start
        # the verifier's head start on SFT's answers that passed the fast check (level by level)
        todo = [pair for lv in self.cfg.eval_levels for pair in self._pairs(self.heldout.get(lv) or [],
                                                                            self.generated.get(("sft", lv)) or [])]
        todo = [pr for pr, v in zip(todo, screen(todo)) if v is not None and status_of(v) not in FAST_FINAL]
        if todo and time.time() < deadline - 2.0:
            got = self._eval_verifier()(todo, deadline=deadline)
            out["verifier_head_start"] = {"answers": len(todo), "verified": sum(v is not None for v in got)}
        return out

    def phase_rl(self, algo: str, budget: float) -> dict:
        from drtriton.train.metrics import read_metrics
        from drtriton.train.policy import rollout_dtype
        from drtriton.train.rl import run_rl
        from drtriton.train.workspace import CachedVerifier

        c = self.cfg
        t_phase = time.time()
        extra = getattr(self, "extra_rl_tasks", None) or self._take_extra_rl_tasks(budget)  # once per run
        steps = c.rl_max_steps
        drpo = self.results.get("rl_drpo")
        if algo == "grpo" and drpo and drpo.get("steps"):
            steps = drpo["steps"]  # same data, same number of updates as DRPO (when both run here)
        budget -= time.time() - t_phase
        start_dir, steps_before = self.sft_dir, 0
        if c.init_rl is not None:
            start_dir, steps_before = self.load_rl(c.init_rl, algo)
        # DRPO and GRPO differ only in rl.algo (loss and reward use); every other setting is shared.
        cfg = self._run_config(f"rl_{algo}", {
            "model.path": str(start_dir), "rl.algo": algo,
            # a continued run keeps the SFT model as its KL reference (else: the policy it starts from)
            **({"rl.ref_path": str(self.sft_dir)} if c.init_rl is not None else {}), "rl.rollouts": c.rl_rollouts,
            "rl.prompts_per_step": c.rl_prompts_per_step, "rl.gen_prompts_per_call": c.rl_prompts_per_step,
            "rl.gen_dtype": rollout_dtype(c.rl_gen_dtype, self._device()),
            "rl.lr": c.rl_lr, "rl.warmup_steps": c.rl_warmup_steps, "rl.ref_kl": c.rl_ref_kl,
            "rl.steps": steps, "rl.updates_per_batch": c.rl_updates_per_batch,
            "rl.temperature": c.rl_temperature, "rl.max_new_tokens": c.max_new_tokens,
            "rl.max_new_tokens_by_level": self.rl_caps or self.caps, "rl.overlap": True, "rl.save_every": 10**9,
            "rl.verify_workers": self.workers, "rl.max_seconds": max(1.0, budget - 12.0),  # 12 s: load + export
            "rl.signal_only": c.rl_signal_only,
            "curriculum.eval_every": c.rl_eval_every, "curriculum.start_level": getattr(self, "start_level", None),
            "eval_n": c.rl_eval_n})
        verify = CachedVerifier(verify_many=self._reward_check())  # own cache: no free verdicts across runs
        # a fresh stream per algorithm over the same task lists: both start on the same prompts
        stream = RevisitStream(self.rl_tasks, c.rl_revisit_share) if c.rl_revisit_share > 0 else ListStream(self.rl_tasks)
        ws = self._workspace(cfg, verify, stream)
        r = run_rl(cfg, ws=ws)
        self._copy_logs(cfg.run_dir, f"rl_{algo}")
        setattr(self, f"{algo}_dir", r.final_dir)
        if c.save_rl is not None:
            self.save_rl(c.save_rl, algo, r.final_dir, steps_before + r.steps)
        series = read_metrics(cfg.run_dir / "metrics.csv") if (cfg.run_dir / "metrics.csv").is_file() else {}
        curve = lambda k: [v for _, v in series.get(k, [])]
        return {"reward_check": c.rl_reward, "fast_check_restarts": self.fast.restarts if self.fast else None,
                "fast_check_replaced": dict(self.fast.replaced) if self.fast else None,
                "rl_tasks": {lv: len(v) for lv, v in self.rl_tasks.items()}, "extra_rl_tasks": extra,
                "prompt_order": "revisit" if c.rl_revisit_share > 0 else "list",
                "steps": r.steps, "steps_before": steps_before, "steps_total": steps_before + r.steps,
                "started_from": str(start_dir), "steps_allowed": steps, "seconds": r.seconds, "level": r.level,
                "curriculum": r.curriculum, "candidates_verified": verify.verified, "verifier_cache_hits": verify.hits,
                "rollouts": r.steps * c.rl_rollouts * c.rl_prompts_per_step,
                "settings": {"lr": c.rl_lr, "warmup_steps": c.rl_warmup_steps, "ref_kl": c.rl_ref_kl,
                             "temperature": c.rl_temperature, "rollouts": c.rl_rollouts,
                             "prompts_per_step": c.rl_prompts_per_step, "updates_per_batch": c.rl_updates_per_batch,
                             "gen_dtype": cfg.rl.gen_dtype,
                             "signal_only": c.rl_signal_only, "revisit_share": c.rl_revisit_share,
                             "answer_caps": self.rl_caps or self.caps, "eval_decoding": "greedy, 1 answer per task"},
                "rollout_correct_rate": curve("rollout/correct_rate"),
                "rollout_format_error_rate": curve("rollout/format_error_rate"),
                "mixed_groups": curve("rollout/mixed_groups"), "eval_pass_at_1": curve("eval/pass_at_1"),
                "prompts_revisited": curve("prompts/revisited"),
                "update_sequences": curve(f"{algo}/update_sequences"),
                "kl_ref": curve(f"{algo}/kl_ref"), "skipped_update": curve(f"{algo}/skipped_update"),
                "step_s": curve("perf/step_s"), "gen_s": curve("perf/gen_s"),
                "verify_wait_s": curve("perf/verify_wait_s"), "update_s": curve("perf/update_s"),
                "gen_tokens_per_s": curve("perf/gen_tokens_per_s"),
                "verify_s": curve("perf/verify_s"), "last_stats": r.last_stats}

    def phase_eval(self, budget: float) -> dict:
        """Every model's greedy answers (SFT's from the probe), then the fast check on all of them and the
        sandboxed verifier on those it did not reject (see the module docstring)."""
        deadline = time.time() + budget
        # generation stops at half the phase so the checks have the rest (the second H100 run generated for
        # 96 s of 115 and left 19 s to verify 170 answers: every rate was unmeasured)
        generate_until = time.time() + GENERATE_SHARE["eval"] * budget
        names = [n for n in ("sft", "drpo", "grpo") if hasattr(self, f"{n}_dir")]  # sft: levels the probe missed
        for lv in self.cfg.eval_levels:  # level by level: a cut drops the same (last) levels of every model
            for name in names:
                self._generate(name, getattr(self, f"{name}_dir"), generate_until, levels=[lv])
                self._screen_in_background(name, lv)  # the fast check runs while the next answers generate
        self.loaded.clear()
        release_gpu_memory()  # the verifier's workers share this GPU
        self._wait_screens(deadline)
        models = self._verify_generated(deadline, teacher=self.cfg.eval_teacher)
        missing = [f"{name} L{lv}" for name, levels in models.items() for lv, r in levels.items() if r is None]
        unverified = [f"{name} L{lv}" for name, levels in models.items() for lv, r in levels.items()
                      if r is not None and r.get("correct_rate") is None]
        if missing or unverified:
            self.log(f"eval: not measured within the budget (reported None): {', '.join(missing) or '-'}; "
                     f"fast check only (no verifier rate): {', '.join(unverified) or '-'}")
        return {"models": models, "verify": dict(self.cfg.verify), "not_measured": missing,
                "not_verified": unverified, "decoding": "greedy, 1 answer per task",
                "fast_check_final": sorted(FAST_FINAL)}

    # ---- helpers ----
    def _start_extra_rl_draws(self) -> None:
        """Starts drawing `rl_extra_tasks` more RL prompts per evaluated level in a background pool."""
        c = self.cfg
        if c.rl_extra_tasks <= 0 or getattr(self, "_extra_draws", None) is not None:
            return
        first = c.rl_tasks_per_level + 1  # the seeds after those of the data phase's RL draws
        jobs = [Job("rl", lv, c.seed * 1_000_000_007 + lv * 100_003 + k)
                for k in range(first, first + c.rl_extra_tasks) for lv in c.eval_levels]
        # CPU only (no CUDA context per process); half the cores: the fast check's workers start meanwhile
        self._extra_draws = ParallelDraws(jobs, c.scale, max(2, self.workers // 2), "cpu")

    def _take_extra_rl_tasks(self, budget: float) -> dict | None:
        """Adds the extra RL prompts drawn so far (waiting up to 10% of the RL phase for the rest) to the RL
        task lists: new hashes only, never a held-out one. None when there are none to take."""
        self._start_extra_rl_draws()
        draws = getattr(self, "_extra_draws", None)
        if draws is None:
            return None
        got = draws.collect(time.time() + min(30.0, 0.1 * budget))
        draws.close()
        self._extra_draws = None
        held = {t["hash"] for ts in self.heldout.values() for t in ts} | self.sft_hashes
        before = {lv: len(v) for lv, v in self.rl_tasks.items()}
        for d in got:
            if d.task is None or d.task["hash"] in held:  # held-out, or a program SFT trained on
                continue
            tasks = self.rl_tasks.setdefault(d.job.level, [])
            if d.task["hash"] not in {t["hash"] for t in tasks}:
                tasks.append(d.task)
        self.extra_rl_tasks = {"jobs": len(draws.jobs), "finished": len(got),
                               "added": {lv: len(v) - before.get(lv, 0) for lv, v in self.rl_tasks.items()}}
        return self.extra_rl_tasks

    def _device(self) -> str:
        if self.cfg.device != "auto":
            return self.cfg.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _pool(self):
        if self.pool is None:
            from drtriton.verify import VerifierPool, VerifyConfig

            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in self.cfg.verify.items()}
            self.pool = VerifierPool(VerifyConfig(**fields), workers=self.workers)
        return self.pool

    def _workspace(self, cfg, verify=None, stream=None):
        from drtriton.train.workspace import Workspace

        return Workspace(cfg, verifier=verify, heldout=self.heldout, stream=stream or ListStream(self.rl_tasks))

    def _run_config(self, name: str, overrides: dict):
        from drtriton.train.config import load_config

        c = self.cfg
        base = {"run_dir": str(c.work / name), "seed": c.seed, "device": c.device, "data.source": "synth",
                "data.scale": c.scale, "data.levels": list(c.eval_levels), "data.heldout_n": c.heldout_n,
                "curriculum.levels": list(c.eval_levels), "verify": dict(c.verify)}
        base.update(overrides)
        return load_config(None, base)

    def _copy_logs(self, run_dir: Path, name: str) -> None:
        dest = self.cfg.out / name
        dest.mkdir(parents=True, exist_ok=True)
        for f in ("metrics.csv", "curves.png"):
            if (run_dir / f).is_file():
                shutil.copy2(run_dir / f, dest / f)
        if (run_dir / "tb").is_dir():
            shutil.copytree(run_dir / "tb", dest / "tb", dirs_exist_ok=True)

    def _reward_check(self):
        """The RL reward's batch checker: the fast check, or the sandboxed verifier (rl_reward)."""
        if self.cfg.rl_reward == "verifier":
            from drtriton.train.workspace import CachedVerifier

            return CachedVerifier(self._pool().verify, self.workers)
        return self._fast_checker()

    def _fast_checker(self):
        if self.fast is None:
            from drtriton.train.fastcheck import FastChecker

            self.fast = FastChecker(self.workers, self._device(), timeout_s=self.cfg.fast_timeout_s)
        return self.fast

    def _screen(self):
        """The held-out answers' fast check, cached for the run (the probe's SFT verdicts serve the eval)."""
        if getattr(self, "_screen_cache", None) is None:
            from drtriton.train.workspace import CachedVerifier

            self._screen_cache = CachedVerifier(verify_many=self._fast_checker())
        return self._screen_cache

    def _eval_verifier(self):
        """The sandboxed verifier of held-out answers, cached for the run (the probe starts it on SFT's)."""
        if getattr(self, "_eval_cache", None) is None:
            from drtriton.train.workspace import CachedVerifier

            self._eval_cache = CachedVerifier(self._pool().verify, self.workers)
        return self._eval_cache

    def _screen_in_background(self, name: str, level: int) -> None:
        """Fast-checks one model's answers at one level in a thread (results land in the screen's cache)."""
        answers = self.generated.get((name, level))
        if answers is None:
            return
        if getattr(self, "_screening", None) is None:
            from concurrent.futures import ThreadPoolExecutor

            self._screening = (ThreadPoolExecutor(max_workers=1), [])
        ex, futures = self._screening
        futures.append(ex.submit(self._screen(), self._pairs(self.heldout[level], answers)))

    def _wait_screens(self, deadline: float) -> None:
        """Waits (until the deadline) for the background fast checks, so no answer is checked twice."""
        from concurrent.futures import wait

        if getattr(self, "_screening", None) is None:
            return
        ex, futures = self._screening
        wait(futures, timeout=max(0.0, deadline - time.time()))
        ex.shutdown(wait=False)
        self._screening = None

    @staticmethod
    def _pairs(tasks: list[dict], answers: list[str]) -> list[tuple[str, str]]:
        """(program, code) of every answer that parses."""
        from drtriton.train.prompt import parse_answer

        return [(t["program"], q.code) for t, a in zip(tasks, answers) if (q := parse_answer(a)).ok]

    def _generate(self, name: str, folder: Path, deadline: float, levels: list[int] | None = None) -> None:
        """Greedy answers of one model to the held-out sets of `levels` (default all; in order, until the
        deadline). The model stays loaded for the next call (`self.loaded`)."""
        from drtriton.train.evaluate import generate_answers
        from drtriton.train.models import ModelSpec, load_model

        levels = [lv for lv in (levels or self.cfg.eval_levels)
                  if self.heldout.get(lv) and (name, lv) not in self.generated]
        if not levels or time.time() >= deadline:
            return
        if self.loaded.get(name, (None,))[0] != folder:
            self.loaded[name] = (folder, *load_model(ModelSpec(path=Path(folder)), device=self._device()))
        _, model, tok = self.loaded[name]
        for lv in levels:
            tasks = self.heldout[lv]
            if time.time() >= deadline:
                break
            t = time.time()
            answers = generate_answers(model, tok, tasks, self.caps.get(lv, self.cfg.max_new_tokens),
                                       batch_size=len(tasks))
            self.generated[(name, lv)] = answers
            self.log(f"{name} level {lv}: {len(tasks)} greedy answers in {time.time() - t:.1f} s")

    def _verify_generated(self, deadline: float, teacher: bool) -> dict:
        """The fast check on every generated answer, then the sandboxed verifier on the answers it did not
        reject (FAST_FINAL), models' levels in order and the teacher last. A (model, level) whose answers
        were not all fast-checked is None; one whose verifier verdicts are incomplete keeps its fast-check
        rates with `correct_rate`, `fast_1` and the verifier's rates None (never a partial rate)."""
        from drtriton.train.evaluate import summarize
        from drtriton.train.prompt import ParsedAnswer, parse_answer
        from drtriton.train.rewards import COMPILE_ERROR, FORMAT_ERROR, Outcome

        rows: dict[tuple[str, int], tuple[list[dict], list]] = {
            (name, lv): (self.heldout[lv], [parse_answer(a) for a in answers])
            for (name, lv), answers in self.generated.items()}
        if teacher:  # the code generator's own answers; a program it could not compile counts as not compiled
            for lv in self.cfg.eval_levels:
                tasks = self.heldout.get(lv) or []
                if tasks:
                    rows[("teacher", lv)] = (tasks, [
                        parse_answer(format_answer(self.teacher[tk["hash"]])) if tk["hash"] in self.teacher
                        else Outcome(COMPILE_ERROR, "the code generator could not compile the program")
                        for tk in tasks])
        order = sorted(rows, key=lambda key: (key[0] == "teacher", key[1]))

        def pairs_of(key) -> list[tuple[str, str]]:
            return [(tk["program"], p.code) for tk, p in zip(*rows[key]) if isinstance(p, ParsedAnswer) and p.ok]

        fast: dict[tuple[str, str], object] = {}
        screen = self._screen()
        for key in order:  # one call per (model, level): a deadline cuts whole rows
            if time.time() >= deadline - 5.0:
                break
            got = screen(pairs_of(key))
            fast.update((pr, v) for pr, v in zip(pairs_of(key), got) if v is not None)
        if self.fast is not None:
            self.fast.close()  # its workers' cores go to the verifier
            self.fast = None
        todo = [pr for key in order for pr in pairs_of(key) if pr in fast and status_of(fast[pr]) not in FAST_FINAL]
        self.log(f"eval: {len(set(fast))} distinct answers fast-checked, {len(set(todo))} go to the verifier")
        verdicts = dict(zip(todo, self._eval_verifier()(todo, deadline=deadline)))
        out: dict = {}
        for name, lv in order:
            tasks, items = rows[(name, lv)]
            fast_vs, final, by = [], [], []
            for tk, p in zip(tasks, items):
                if isinstance(p, Outcome) or not p.ok:
                    v = p if isinstance(p, Outcome) else Outcome(FORMAT_ERROR, p.error)
                    fast_vs.append(v)
                    final.append(v)
                    by.append("parse")
                    continue
                f = fast.get((tk["program"], p.code))
                fast_vs.append(f)
                decided = f is not None and status_of(f) in FAST_FINAL
                final.append(f if decided else verdicts.get((tk["program"], p.code)))
                by.append("fast" if decided else "verifier")
            if any(v is None for v in fast_vs):
                out.setdefault(name, {})[lv] = None  # not every answer checked in time: unmeasured
                continue
            fr = summarize(tasks, fast_vs)
            row = {"n": fr.n, "fast_correct_rate": fr.correct_rate, "fast_compile_rate": fr.compile_rate,
                   "fast_statuses": fr.statuses, "verified": False, "correct_rate": None, "fast_1": None,
                   "compile_rate": None, "format_error_rate": fr.format_error_rate, "geomean_speedup": None}
            records = [{"hash": tk["hash"], "fast_status": status_of(f)} for tk, f in zip(tasks, fast_vs)]
            if all(v is not None for v in final):
                r = summarize(tasks, final)
                row.update({k: v for k, v in asdict(r).items() if k not in ("provenance", "records")})
                row["verified"] = True
                for rec, full, b in zip(records, r.records, by):
                    rec.update(full, checked_by=b)
            row["records"] = records
            out.setdefault(name, {})[lv] = row
            self.statuses.update({(name, lv, rec["hash"]): rec for rec in records})
        for name in {n for n, _ in self.generated}:
            for lv in self.cfg.eval_levels:
                out.setdefault(name, {}).setdefault(lv, None)
        rows_out = []
        for (name, lv), answers in self.generated.items():
            for tk, a in zip(self.heldout[lv], answers):
                rec = self.statuses.get((name, lv, tk["hash"]), {})
                rows_out.append({"model": name, "level": lv, "hash": tk["hash"], "answer": a,
                                 **{k: rec.get(k) for k in ("status", "fast_status", "checked_by", "reason",
                                                            "speedup_vs_eager")}})
        if rows_out:
            write_jsonl(self.cfg.out / "eval_answers.jsonl", rows_out)
        return out

    # ---- two commands: the SFT model and what the later phases need ----
    def save_sft(self, folder: Path) -> None:
        """The SFT model in bf16 (tokenizer and config beside it) and SFT_STATE: held-out and RL tasks, answer
        caps, the teacher's answers, the data and SFT results; `init_sft` starts a later run from it."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self._save_bf16(Path(self.sft_dir), tmp / "model")
        c = self.cfg
        state = {"heldout": self.heldout, "rl_tasks": self.rl_tasks, "caps": self.caps, "rl_caps": self.rl_caps,
                 "teacher": self.teacher, "data": self.results.get("data"), "sft": self.results.get("sft"),
                 "sft_hashes": sorted(self.sft_hashes),
                 "made_by": {"seed": c.seed, "scale": c.scale, "levels": list(c.levels),
                             "eval_levels": list(c.eval_levels), "heldout_n": c.heldout_n, "model": c.model},
                 "provenance": Provenance.here().to_json()}
        atomic_write_text(tmp / SFT_STATE, json.dumps(_jsonable(state)))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
        self.results["saved_sft"] = {"folder": str(folder), "megabytes": round(mb, 1), "dtype": "bfloat16"}
        self.log(f"sft: saved to {folder} ({mb:.1f} MB, bf16)")
        self.save()

    def save_rl(self, folder: Path, algo: str, final_dir: Path, steps_total: int) -> None:
        """The RL policy in bf16 (tokenizer beside it) and RL_STATE; `init_rl` continues from it."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self._save_bf16(Path(final_dir), tmp / "model")
        chain = list(getattr(self, "rl_chain", [])) + [{"steps_total": steps_total,
                                                         "provenance": Provenance.here().to_json()}]
        state = {"algo": algo, "steps_total": steps_total, "init_sft": self.results.get("init_sft"),
                 "chain": chain}
        atomic_write_text(tmp / RL_STATE, json.dumps(_jsonable(state)))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        self.results["saved_rl"] = {"folder": str(folder), "algo": algo, "steps_total": steps_total,
                                    "dtype": "bfloat16"}
        self.log(f"rl_{algo}: policy after {steps_total} RL steps saved to {folder} (bf16)")
        self.save()

    def load_rl(self, folder: Path, algo: str) -> tuple[Path, int]:
        """The policy and step count of a `save_rl` folder, checked against this run's algorithm."""
        folder = Path(folder)
        state = self._saved_state(folder, RL_STATE, "--init-rl", "bench/train_gpu.py pipeline --init-sft DIR "
                                  "--preset rl-long --algo A --save-rl DIR")
        if state.get("algo") != algo:
            raise UsageError(f"--init-rl {folder} holds a {state.get('algo')} policy; continue it with "
                             f"--algo {state.get('algo')}, not {algo}")
        self.rl_chain = state.get("chain", [])
        self.results["init_rl"] = {"folder": str(folder), "algo": algo, "steps_before": state["steps_total"]}
        self.log(f"rl_{algo}: continuing from {folder} after {state['steps_total']} RL steps")
        return folder / "model", int(state["steps_total"])

    @staticmethod
    def _saved_state(folder: Path, name: str, flag: str, make: str) -> dict:
        """The state file of a saved folder (beside its model/), or a usage error that says how to make one."""
        path = folder / name
        if not path.is_file() or not (folder / "model" / "config.json").is_file():
            raise UsageError(f"{flag} {folder} has no {name} and model/; make one with `{make}`")
        return json.loads(path.read_text())

    @staticmethod
    def _save_bf16(src: Path, dst: Path) -> None:
        """A model folder copied with its weights in bf16 (half the bytes: a command carries ~64 MB)."""
        import torch
        from transformers import AutoModelForCausalLM

        dst.mkdir(parents=True)
        for f in src.iterdir():  # tokenizer files, drtriton_train.json
            if f.is_file() and not f.name.endswith((".safetensors", ".bin")):
                shutil.copy2(f, dst / f.name)
        AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.bfloat16).save_pretrained(str(dst))

    def load_sft(self, folder: Path) -> None:
        """Starts from a `save_sft` folder: the SFT model (as saved, bf16 weights loaded in fp32) and its
        tasks; the data and SFT phases are recorded as loaded."""
        folder = Path(folder)
        state = self._saved_state(folder, SFT_STATE, "--init-sft",
                                  "bench/train_gpu.py pipeline --save-sft DIR --stop-after sft")
        level_map = lambda d: {int(k): v for k, v in (d or {}).items()}
        self.heldout, self.rl_tasks = level_map(state["heldout"]), level_map(state["rl_tasks"])
        self.caps, self.rl_caps, self.teacher = level_map(state["caps"]), level_map(state["rl_caps"]), state["teacher"]
        self.sft_hashes = set(state.get("sft_hashes") or [])  # older folders did not list them
        missing = [lv for lv in self.cfg.eval_levels if len(self.heldout.get(lv) or []) < 1]
        if missing:
            raise UsageError(f"--init-sft {folder} has no held-out tasks at level(s) {missing}; pass eval levels "
                             f"among {sorted(self.heldout)}")
        self.heldout = {lv: v[: self.cfg.heldout_n] for lv, v in self.heldout.items()}
        self.sft_dir = folder / "model"
        for name in ("data", "sft"):
            self.results[name] = state.get(name)
            self.results["phases"][name] = {"status": "ok", "budget_s": None, "seconds": 0.0, "error": None,
                                            "loaded_from": str(folder)}
        self.results["init_sft"] = {"folder": str(folder), "made_by": state.get("made_by")}
        self.log(f"init: SFT model and tasks from {folder} (data and SFT phases skipped)")

    # ---- the run ----
    def prepare_dirs(self) -> None:
        work = self.cfg.work
        for keep in (self.cfg.init_sft, self.cfg.save_sft, self.cfg.init_rl, self.cfg.save_rl):
            if keep is not None and Path(keep).resolve().is_relative_to(work.resolve()):
                raise UsageError(f"{keep} is inside the work folder {work}, which each run clears; "
                                 "keep the saved SFT folder elsewhere")
        if work.exists() and any(work.iterdir()) and not (work / MARKER).is_file():
            raise UsageError(f"work folder {work} is not empty and was not made by the pipeline; "
                             "pass an empty or new --work folder")
        if work.exists():
            shutil.rmtree(work)  # a fresh run: models and checkpoints of an earlier one would be resumed
        work.mkdir(parents=True)
        (work / MARKER).write_text("made by drtriton.train.pipeline; cleared at the start of each run\n")
        self.cfg.out.mkdir(parents=True, exist_ok=True)

    def run(self) -> dict:
        import torch

        self.prepare_dirs()
        torch.manual_seed(self.cfg.seed)
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = True  # the policy's matmuls (verifier workers are separate)
            torch.backends.cudnn.allow_tf32 = True
        rl = [(f"rl_{a}", lambda b, a=a: self.phase_rl(a, b), ("sft",)) for a in ("drpo", "grpo")
              if a in self.cfg.rl_algos]
        steps = [("probe_sft", self.phase_probe_sft, ("sft",)), *rl, ("eval", self.phase_eval, ("sft",))]
        if self.cfg.init_sft is not None:
            self.load_sft(self.cfg.init_sft)
            self._start_extra_rl_draws()  # on the CPU cores while the probe generates on the GPU
        else:
            steps = [("data", self.phase_data, ()), ("sft", self.phase_sft, ("data",))] + steps
        try:
            for name, fn, needs in steps:
                self.run_phase(name, fn, needs=needs)
                if name == "sft" and self.cfg.save_sft is not None and self.results["phases"]["sft"]["status"] == "ok":
                    self.save_sft(self.cfg.save_sft)
                if name == self.cfg.stop_after:
                    break
        finally:
            if self.draws is not None:
                self.draws.close()
            if getattr(self, "_extra_draws", None) is not None:
                self._extra_draws.close()
            if self.fast is not None:
                self.fast.close()
            if self.pool is not None:
                self.pool.close()
        self.results["comparison"] = compare_results(self.results)
        self._plots()
        self.save()
        return self.results

    def _plots(self) -> None:
        from drtriton.train.metrics import plot_eval_bars, plot_runs_compared

        out = self.cfg.out
        plots = {}
        csvs = {a: out / f"rl_{a}" / "metrics.csv" for a in ("drpo", "grpo")}
        p = plot_runs_compared(csvs, ["rollout/correct_rate", "rollout/grpo_reward", "rollout/format_error_rate",
                                      "rollout/mixed_groups", "eval/pass_at_1", "curriculum/level"],
                               out / "rl_compare.png")
        plots["rl_compare"] = p and p.name
        evals = _all_evals(self.results)
        p = plot_eval_bars(evals, ["fast_correct_rate", "correct_rate", "fast_1", "compile_rate"],
                           out / "eval_compare.png")
        plots["eval_compare"] = p and p.name
        for name in ("sft", "rl_drpo", "rl_grpo"):
            plots[f"{name}_curves"] = f"{name}/curves.png" if (out / name / "curves.png").is_file() else None
        self.results["plots"] = plots


def rl_start_level(levels: tuple[int, ...], pass_at_1: dict) -> int:
    """Where RL starts, from SFT's probe pass@1 per level (None: not measured). DRPO and GRPO learn only
    from groups with correct and wrong rollouts, so the level whose pass rate p gives the most such groups
    (largest p(1-p), 0 < p < 1; the lower level on a tie) wins. With no such level: the first level SFT
    has not passed (p None or <= 0.5), else the last."""
    mixed = [(p * (1 - p), -i) for i, lv in enumerate(levels) if (p := pass_at_1.get(lv)) is not None and 0 < p < 1]
    if mixed:
        return levels[-max(mixed)[1]]
    return next((lv for lv in levels if pass_at_1.get(lv) is None or pass_at_1[lv] <= 0.5), levels[-1])


def compare_results(results: dict) -> dict:
    """SFT alone vs SFT+DRPO vs SFT+GRPO on the held-out sets, in points (100 x rate): per level, and pooled
    over the levels both sides measured, metric by metric (`pooled_levels` for the verifier's correct rate;
    a level not measured is left out of both sides, never counted as zero). The target: RL raises the
    pooled correct rate or fast_1 by >= 10 points over SFT alone (`<algo>_meets_target`, the sandboxed
    verifier's rates; None when nothing comparable was measured); `<algo>_meets_target_fast_check` is the
    same test on the fast check's correct rate. `<algo>_vs_sft_tasks` counts, per task, what RL fixed and
    broke (a 10-point pooled change on 2 x 64 tasks is a net 13 tasks)."""
    evals = _all_evals(results)
    sft = evals.get("sft") or {}
    metrics = ("correct_rate", "fast_1", "compile_rate", "fast_correct_rate")

    def has(row, metric) -> bool:
        return row is not None and row.get(metric) is not None

    def pooled(by_level: dict, metric: str, levels: list) -> float | None:
        rows = [by_level[lv] for lv in levels]
        if not rows or any(not has(r, metric) for r in rows):
            return None
        return sum(r[metric] * r["n"] for r in rows) / sum(r["n"] for r in rows)

    def delta(a, b):
        return None if a is None or b is None else round(100 * (a - b), 2)

    def common(a: dict, b: dict, metric: str) -> list:
        return [lv for lv, r in (a or {}).items() if has(r, metric) and has((b or {}).get(lv), metric)]

    def paired(a: dict, b: dict, key: str) -> dict:
        """Tasks `a` got right and `b` did not (fixed), and the reverse (broken), over levels both checked."""
        fixed = broken = both = 0
        for lv, r in (a or {}).items():
            s_ = (b or {}).get(lv)
            if r is None or s_ is None:
                continue
            mine = {x["hash"]: x.get(key) == "correct" for x in r.get("records") or [] if x.get(key)}
            base = {x["hash"]: x.get(key) == "correct" for x in s_.get("records") or [] if x.get(key)}
            for h in mine.keys() & base.keys():
                fixed += mine[h] and not base[h]
                broken += base[h] and not mine[h]
                both += mine[h] and base[h]
        return {"fixed": fixed, "broken": broken, "correct_in_both": both}

    out: dict = {"metrics_in": "points (100 x rate)", "pooled": {}, "per_level": {}}
    for name in ("sft", "drpo", "grpo", "teacher"):
        if evals.get(name):
            out["pooled"][name] = {m: pooled(evals[name], m, [lv for lv, r in evals[name].items() if has(r, m)])
                                   for m in metrics}
            out["pooled"][name]["levels"] = [lv for lv, r in evals[name].items() if r is not None]
    for algo in ("drpo", "grpo"):
        if not evals.get(algo):
            continue
        per = {}
        for lv, r in evals[algo].items():
            s_ = sft.get(lv)
            per[lv] = {m: delta(r and r.get(m), s_ and s_.get(m)) for m in metrics}
        out["per_level"][f"{algo}_minus_sft"] = per
        d = {m: delta(pooled(evals[algo], m, common(evals[algo], sft, m)), pooled(sft, m, common(evals[algo], sft, m)))
             for m in metrics}
        d["pooled_levels"] = common(evals[algo], sft, "correct_rate")
        d["pooled_levels_fast_check"] = common(evals[algo], sft, "fast_correct_rate")
        out[f"{algo}_minus_sft"] = d
        got = [v for v in (d["correct_rate"], d["fast_1"]) if v is not None]
        out[f"{algo}_meets_target"] = (max(got) >= 10.0) if got else None
        out[f"{algo}_meets_target_fast_check"] = (d["fast_correct_rate"] >= 10.0
                                                  if d["fast_correct_rate"] is not None else None)
        out[f"{algo}_levels_at_plus_10"] = [lv for lv, row in per.items()  # per level, for reading, not the target
                                            if any((row[m] or 0.0) >= 10.0 for m in ("correct_rate", "fast_1"))]
        out[f"{algo}_vs_sft_tasks"] = {"verifier": paired(evals[algo], sft, "status"),
                                       "fast_check": paired(evals[algo], sft, "fast_status")}
    if evals.get("drpo") and evals.get("grpo"):
        g = evals["grpo"]
        out["drpo_minus_grpo"] = {m: delta(pooled(evals["drpo"], m, common(evals["drpo"], g, m)),
                                           pooled(g, m, common(evals["drpo"], g, m))) for m in metrics}
        out["drpo_minus_grpo"]["pooled_levels"] = common(evals["drpo"], g, "correct_rate")
        out["drpo_vs_grpo_tasks"] = {"verifier": paired(evals["drpo"], g, "status"),
                                     "fast_check": paired(evals["drpo"], g, "fast_status")}
    hits = [a for a in ("drpo", "grpo") if out.get(f"{a}_meets_target")]
    fast_hits = [a for a in ("drpo", "grpo") if out.get(f"{a}_meets_target_fast_check")]
    what = "target (RL >= +10 points pooled correct rate or fast_1 over SFT)"
    if hits:
        out["summary"] = f"{what} met by {hits}"
    elif any(out.get(f"{a}_meets_target") is False for a in ("drpo", "grpo")):
        out["summary"] = f"{what} not met"
    else:
        out["summary"] = f"{what} not measured by the verifier: no RL model and SFT verified on a common level"
    if fast_hits or any(out.get(f"{a}_meets_target_fast_check") is False for a in ("drpo", "grpo")):
        out["summary"] += f"; on the fast check's correct rate: {'met by ' + str(fast_hits) if fast_hits else 'not met'}"
    return out


def combine_runs(runs: list[dict]) -> dict:
    """One comparison over several pipeline runs from the same SFT model (e.g. `--preset rl-long`, one RL
    algorithm per command): SFT's evaluation is the first run's, every run's RL models join it, and
    `sft_agreement` says per level how many held-out tasks got the same fast-check status from SFT in every
    run (its greedy answers are regenerated in each: a baseline that differs between runs is reported,
    never averaged away). The RL prompt lists of the runs are compared by their task counts."""
    if not runs:
        raise UsageError("combine_runs needs at least one results.json")
    first = _all_evals(runs[0])
    models: dict = {n: dict(first.get(n) or {}) for n in ("sft", "teacher") if first.get(n)}
    models.setdefault("sft", {})
    agreement: dict = {}
    rl: dict = {}
    for i, r in enumerate(runs):
        for name, levels in _all_evals(r).items():
            if name == "sft":
                for lv, row in (levels or {}).items():
                    base = models["sft"].get(lv)
                    if i == 0 or row is None or base is None:
                        continue
                    mine = {x["hash"]: x.get("fast_status") for x in row.get("records") or []}
                    ref = {x["hash"]: x.get("fast_status") for x in base.get("records") or []}
                    a = agreement.setdefault(lv, {"n": len(ref), "same_fast_status": len(ref),
                                                  "fast_correct_rate": [base.get("fast_correct_rate")]})
                    a["same_fast_status"] = min(a["same_fast_status"], sum(mine.get(h) == s for h, s in ref.items()))
                    a["fast_correct_rate"].append(row.get("fast_correct_rate"))
            elif name == "teacher":
                continue  # the code generator's answers: the same in every run, the first run's kept
            elif name in models:
                raise UsageError(f"model {name!r} is in more than one run; combine runs of different algorithms")
            else:
                models[name] = levels
        for algo in ("drpo", "grpo"):
            if r.get(f"rl_{algo}"):
                x = r[f"rl_{algo}"]
                rl[algo] = {k: x.get(k) for k in ("steps", "seconds", "rl_tasks", "extra_rl_tasks", "settings",
                                                  "fast_check_replaced")}
    tasks = {json.dumps(v.get("rl_tasks"), sort_keys=True) for v in rl.values()}
    combined = {"eval": {"models": models}}
    return {"models": {n: {lv: row and {k: row.get(k) for k in ("n", "fast_correct_rate", "correct_rate", "fast_1",
                                                                 "fast_compile_rate")} for lv, row in lv_rows.items()}
                       for n, lv_rows in models.items()},
            "sft_agreement": agreement, "rl": rl, "same_rl_task_counts": len(tasks) <= 1,
            "comparison": compare_results(combined)}


def _all_evals(results: dict) -> dict:
    """model -> level -> metrics, over both evaluation phases."""
    return dict((results.get("eval") or {}).get("models") or {})


def _mean(xs: list) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run_pipeline(cfg: PipelineConfig) -> dict:
    """Runs every phase within cfg.budget_s; returns (and writes to cfg.out/results.json) the results."""
    return Pipeline(cfg).run()


