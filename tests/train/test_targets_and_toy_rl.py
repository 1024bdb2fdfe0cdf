"""What the pipeline's second H100 run changed: canonical SFT targets (kernel names, shapes named by the
program's size constants, still correct), length-bucketed SFT batches, the data phase handing over to SFT
early, and RL that learns a toy task (reward on one token) with DRPO and with GRPO."""

from __future__ import annotations

import math
import random
import time

import pytest
import torch

from drtriton.train.config import load_config
from drtriton.train.datagen import (
    Drawn,
    Job,
    ParallelDraws,
    canonical_solution,
    check_solution,
    size_constants,
    static_rules,
)
from drtriton.train.policy import Rollout, completion_logps
from drtriton.train.rewards import Outcome
from drtriton.train.rl import ScoredRollout, policy_update
from drtriton.train.sft import epoch_order

PROGRAM = '''import torch
import torch.nn as nn

BATCH = 4
CHANNELS = 8
LENGTH = 32


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, LENGTH)]


def get_init_inputs():
    return []
'''

# What the code generator writes for it (shape of its output, names and constants).
ANSWER = '''import torch
import torch.nn as nn
import triton
import triton.language as tl

BATCH = 4
CHANNELS = 8
LENGTH = 32

@triton.jit
def k0_relu_relu(
    p_v0, p_out,
    N: tl.constexpr, BLOCK: tl.constexpr,
):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    x0 = tl.load(p_v0 + offs, mask=mask, other=0.0)
    tl.store(p_out + offs, tl.maximum(x0, 0.0), mask=mask)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, v0):
        v0 = v0.contiguous()
        dev = v0.device
        v1 = torch.empty((4, 8, 32), device=dev, dtype=torch.float32)
        k0_relu_relu[(triton.cdiv(1024, 1024),)](v0, v1, N=1024, BLOCK=1024, num_warps=4, num_stages=2)
        return v1
'''


def test_canonical_solution_renames_kernels_and_writes_sizes_as_products_of_the_programs_size_names():
    assert size_constants(PROGRAM) == {"BATCH": 4, "CHANNELS": 8, "LENGTH": 32}
    out = canonical_solution(PROGRAM, ANSWER)
    assert "k0_relu_relu" not in out and "def k0(" in out
    assert "v1 = torch.empty((BATCH, CHANNELS, LENGTH), device=dev" in out  # 32 is LENGTH, not BATCH * CHANNELS
    assert ("k0[(triton.cdiv(BATCH * CHANNELS * LENGTH, 1024),)](v0, v1, N=BATCH * CHANNELS * LENGTH, "
            "BLOCK=1024, num_warps=4, num_stages=2)") in out  # tuning arguments stay literal
    assert "tl.maximum(x0, 0.0)" in out and out.count("\n") == ANSWER.count("\n")  # kernel body untouched
    assert check_solution(PROGRAM, ANSWER, "cpu") is None
    assert check_solution(PROGRAM, out, "cpu") is None  # the rewrite is still a correct answer


def test_canonical_solution_uses_numel_for_counts_no_size_product_matches_and_keeps_bad_code():
    answer = ANSWER.replace("(4, 8, 32)", "(4, 8, 15)").replace("N=1024", "N=480").replace("cdiv(1024", "cdiv(480")
    out = canonical_solution(PROGRAM, answer)
    assert "torch.empty((BATCH, CHANNELS, 15)" in out
    assert "k0[(triton.cdiv(v1.numel(), 1024),)](v0, v1, N=v1.numel()," in out
    assert canonical_solution(PROGRAM, "def f(:\n") == "def f(:\n"
    # size names the answer does not define are never used (the answer would not run)
    no_header = ANSWER.replace("BATCH = 4\nCHANNELS = 8\nLENGTH = 32\n", "")
    assert "BATCH" not in canonical_solution(PROGRAM, no_header)


def test_static_rules_reject_an_sft_target_the_verifier_would_flag():
    assert static_rules(canonical_solution(PROGRAM, ANSWER)) is None
    identity = ANSWER[:ANSWER.index("        v1 = torch.empty")] + "        return v0.clone()\n"
    identity = identity.replace(identity[identity.index("@triton.jit"):identity.index("class ModelNew")], "")
    assert check_solution(PROGRAM.replace("torch.relu(x)", "x"), identity, "cpu") is None  # right values ...
    assert static_rules(identity).startswith("static rule cheat_detected: launch.no_triton_kernel")  # ... no kernel


@pytest.mark.slow  # the synthesizer, the code generator and the Triton interpreter on 6 programs (~1 min)
def test_canonical_targets_of_synthesized_programs_still_pass_the_check():
    from drtriton.train.data import SynthSource, reference_solution
    from drtriton.train.datagen import compact_solution

    source, changed = SynthSource("small"), 0
    for level in (1, 2, 5):
        for seed in (11, 12):
            task = source.draw(level, seed)
            sol = reference_solution(task["program"])
            if sol is None:
                continue
            code = compact_solution(sol)
            out = canonical_solution(task["program"], code)
            changed += out != code
            assert check_solution(task["program"], out, "cpu") is None, (level, seed)
            assert static_rules(out) is None or "no_triton_kernel" in static_rules(out)
    assert changed >= 4


def test_epoch_order_is_a_permutation_with_less_padding_when_bucketed():
    rng = random.Random(0)
    lengths = [rng.randint(300, 3000) for _ in range(256)]

    def padded(order, batch=16):
        return sum(max(lengths[i] for i in order[b:b + batch]) * len(order[b:b + batch])
                   for b in range(0, len(order), batch))

    plain, bucketed = epoch_order(lengths, 16, 1, seed=3), epoch_order(lengths, 16, 8, seed=3)
    assert sorted(plain) == sorted(bucketed) == list(range(256))
    assert padded(bucketed) < 0.8 * padded(plain)
    expected = list(range(256))
    random.Random(3).shuffle(expected)
    assert plain == expected and epoch_order(lengths, 16, 8, seed=3) == bucketed  # deterministic (resume)


def _slow_after_first(job, scale):
    """Job 0 is quick, the others take a while: a caller that has enough after job 0 must not wait."""
    if job.seed > 0:
        time.sleep(3.0)
    return Drawn(job, task={"hash": str(job.seed), "program": "", "level": job.level})


@pytest.mark.slow  # spawns a process pool
def test_parallel_draws_collect_stops_when_enough_and_the_rest_arrive_by_poll():
    draws = ParallelDraws([Job("sft", 1, s) for s in range(3)], None, workers=1, run_job=_slow_after_first)
    try:
        got = draws.collect(time.time() + 120, enough=lambda: draws.finished >= 1)
        assert [d.job.seed for d in got] == [0] and draws.pending == 2
        late: list = []
        deadline = time.time() + 60
        while len(late) < 2 and time.time() < deadline:
            late += draws.poll()
            time.sleep(0.2)
        assert sorted(d.job.seed for d in late) == [1, 2]
    finally:
        draws.close()


# ---- RL on a toy task: the reward favours one first token ----
PAD, EOS, TARGET, PROMPT = 0, 1, 5, [2, 3, 4]


def _toy_policy():
    from transformers import AutoModelForCausalLM

    from drtriton.train.models import builtin_config

    torch.manual_seed(0)
    config = builtin_config("test", 8, eos_token_id=EOS, pad_token_id=PAD, bos_token_id=EOS)
    return AutoModelForCausalLM.from_config(config)


def _p_target(model) -> float:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([PROMPT])).logits[0, -1]
    return float(torch.softmax(logits.float(), -1)[TARGET])


@pytest.mark.parametrize("algo", ["drpo", "grpo"])
def test_rl_on_a_toy_task_raises_the_probability_of_the_rewarded_token(algo):
    """Rollouts are sampled from the policy; a rollout is correct iff its first token is TARGET. Wrong
    rollouts are longer (their extra tokens exercise the loss mask). The policy must learn TARGET."""
    model = _toy_policy()
    cfg = load_config(None, {"rl.algo": algo, "rl.lr": 3e-3, "rl.updates_per_batch": 2, "device": "cpu"})
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.rl.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(1)
    before, threads = _p_target(model), torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-layer model: threads only contend (30 s instead of 2 s on a loaded box)
    try:
        for _ in range(15):
            _toy_step(model, opt, cfg, algo, gen)
    finally:
        torch.set_num_threads(threads)
    after = _p_target(model)
    assert after > max(0.5, 3 * before), (before, after)


def _toy_step(model, opt, cfg, algo, gen) -> None:
    """16 rollouts sampled from the policy, scored, one policy_update."""
    with torch.no_grad():
        probs = torch.softmax(model(input_ids=torch.tensor([PROMPT])).logits[0, -1].float(), -1)
    firsts = torch.multinomial(probs, 16, replacement=True, generator=gen).tolist()
    scored = [ScoredRollout(Rollout(0, PROMPT, [t, EOS] if t == TARGET else [t, 6, 7, EOS], ""),
                            Outcome("correct") if t == TARGET else Outcome("incorrect")) for t in firsts]
    policy_update(model, opt, scored, algo, cfg, PAD)


def test_completion_logps_of_a_row_do_not_depend_on_the_padding_of_longer_rows():
    model = _toy_policy().eval()
    alone, mask_a = completion_logps(model, [PROMPT], [[5, EOS]], PAD)
    both, mask_b = completion_logps(model, [PROMPT, PROMPT + [6]], [[5, EOS], [6, 7, 7, 7, EOS]], PAD)
    assert mask_b[0].tolist() == [1, 1, 0, 0, 0] and mask_b[1].tolist() == [1] * 5
    assert torch.allclose(alone[0], both[0, :2], atol=1e-5) and torch.all(both[0, 2:] == 0)
    assert math.isclose(float((both[0] * mask_b[0]).sum().detach()), float(alone.sum().detach()), rel_tol=1e-5)
