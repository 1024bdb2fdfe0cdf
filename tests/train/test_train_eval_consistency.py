"""Training and evaluation see the same thing: the tokenizer a saved model folder loads encodes exactly as
the one SFT trained with; the code generator's canonical SFT targets for held-out tasks, decoded from
tokens as a model would emit them, score correct through the pipeline's own evaluation path; and a tiny
model that overfits a few level-1 tasks is scored correct on them by that path (slow)."""

import os
import time

import pytest

from drtriton.train.data import text_hash
from drtriton.train.prompt import build_prompt, format_answer


def _pairs(tiny_problems):
    return [{"hash": text_hash(p), "level": 1, "prompt": build_prompt(p), "completion": format_answer(s)}
            for p, s in tiny_problems]


def test_a_saved_model_folder_loads_the_tokenizer_it_was_trained_with(tmp_path, tiny_problems):
    import torch

    from drtriton.train.checkpoint import save_final
    from drtriton.train.models import ModelSpec, load_model, load_tokenizer

    pairs = _pairs(tiny_problems)
    corpus = [p["prompt"] + p["completion"] for p in pairs]
    spec = ModelSpec(builtin="test", tokenizer_dir=tmp_path / "tok", vocab_size=400)
    model, tok = load_model(spec, corpus=corpus)
    save_final(model, tok, tmp_path / "final")  # a Qwen2 config.json beside the tokenizer: the case that broke
    model2, tok2 = load_model(ModelSpec(path=tmp_path / "final"))
    for text in corpus + [p["prompt"] for p in pairs]:
        ids = tok(text, add_special_tokens=False).input_ids
        assert tok2(text, add_special_tokens=False).input_ids == ids
        assert load_tokenizer(tmp_path / "tok")(text, add_special_tokens=False).input_ids == ids
        assert tok2.decode(ids, skip_special_tokens=True) == text  # byte-level BPE: exact round trip
    assert (tok2.eos_token_id, tok2.pad_token_id) == (tok.eos_token_id, tok.pad_token_id)
    ids = torch.tensor([tok(corpus[0], add_special_tokens=False).input_ids])
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, model2(input_ids=ids).logits)


def _level1_drawn(n: int, max_chars: int, seeds=range(200, 400)) -> list:
    """n distinct small-scale level-1 draws whose canonical SFT target passed the check (short ones)."""
    from drtriton.train.datagen import Job, _run_job

    out, seen = [], set()
    for seed in seeds:
        d = _run_job(Job("sft", 1, seed, solve=True, canonical=True), "small")
        if (d.solution and d.check is None and d.task["hash"] not in seen and len(d.solution) <= max_chars):
            out.append(d)
            seen.add(d.task["hash"])
        if len(out) == n:
            return out
    pytest.skip(f"only {len(out)} short level-1 programs the code generator solves in {len(seeds)} seeds")


def _pipeline(tmp_path, **kw):
    from drtriton.train.pipeline import Pipeline, PipelineConfig

    base = PipelineConfig.smoke(tmp_path / "out", tmp_path / "work")
    from dataclasses import replace

    p = Pipeline(replace(base, draw_during_sft=False, **kw))
    p.prepare_dirs()
    return p


def test_canonical_targets_of_heldout_tasks_score_correct_through_the_evaluation_path(tmp_path, monkeypatch):
    """The teacher's targets as a model would emit them (encoded, decoded) -> parse_answer -> the sandboxed
    verifier of the pipeline's evaluation: all correct, or some stage disagrees with SFT's data (one target
    is shape-free: the verifier's rules must accept what SFT teaches)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    from drtriton.train.models import train_tokenizer

    drawn = _level1_drawn(2, max_chars=1500)
    assert any(d.extra.get("shape_free") for d in drawn)  # torch.empty_like / v0.numel() reach the verifier
    p = _pipeline(tmp_path)
    p.pairs = p._sft_pairs(drawn)
    assert len(p.pairs) == 2 and all(x["completion"].startswith("```python\n") for x in p.pairs)
    tok = train_tokenizer([x["prompt"] + x["completion"] for x in p.pairs], 400, tmp_path / "tok")
    emitted = [tok.decode(tok(x["completion"], add_special_tokens=False).input_ids + [tok.eos_token_id],
                          skip_special_tokens=True) for x in p.pairs]
    p.heldout = {1: [d.task for d in drawn]}
    p.generated = {("sft", 1): emitted}
    models = p._verify_generated(time.time() + 600, teacher=False)
    r = models["sft"][1]
    assert r is not None, "the verifier did not finish in 600 s"
    assert r["correct_rate"] == 1.0, r["records"]


@pytest.mark.slow
def test_a_model_that_overfits_three_level1_tasks_is_scored_correct_on_them(tmp_path, monkeypatch):
    """Micro run of the pipeline's own phases: SFT (tokenizer, model, export) -> greedy generation from the
    exported folder -> parse -> the RL reward check. Fails if any stage mismatches another (the tokenizer
    of the exported folder did: 0 of 3 before the fix, with a teacher-forced loss of 0.02)."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    from drtriton.train.evaluate import verify_answers
    from drtriton.train.fastcheck import FastChecker

    drawn = _level1_drawn(3, max_chars=900)
    p = _pipeline(tmp_path, vocab_size=600, sft_batch_size=3, sft_max_steps=300, sft_lr=3e-3,
                  sft_warmup_steps=5, max_new_tokens=700)
    p.pairs = p._sft_pairs(drawn)
    sft = p.phase_sft(3600.0)
    assert sft["final_loss"] < 0.1, sft
    p.heldout = {1: [d.task for d in drawn]}
    p.caps = sft["answer_caps"]
    p._generate("sft", p.sft_dir, time.time() + 600)
    answers = p.generated[("sft", 1)]
    exact = sum(a == x["completion"] for a, x in zip(answers, p.pairs))
    check = FastChecker(1, "cpu", timeout_s=120.0)
    try:
        r = verify_answers(p.heldout[1], answers, check)
    finally:
        check.close()
    assert exact >= 2 and r.correct_rate >= 2 / 3, (exact, r.records)
    assert os.environ["TRITON_INTERPRET"] == "1"


def test_rl_starts_at_the_level_with_the_most_groups_of_mixed_rewards():
    from drtriton.train.pipeline import rl_start_level

    levels = (1, 2, 5)
    assert rl_start_level(levels, {1: 0.9, 2: 0.4, 5: 0.0}) == 2  # 0.24 > 0.09
    assert rl_start_level(levels, {1: 0.25, 2: 0.75, 5: 0.1}) == 1  # a tie goes to the lower level
    assert rl_start_level(levels, {1: 0.0, 2: 0.0, 5: 0.0}) == 1  # no variance anywhere: the first level
    assert rl_start_level(levels, {1: 1.0, 2: None, 5: None}) == 2  # passed: the first level not passed
    assert rl_start_level(levels, {1: 1.0, 2: 1.0, 5: 1.0}) == 5


def test_eval_generates_level_by_level_so_a_cut_drops_the_same_levels_of_every_model(tmp_path, monkeypatch):
    from drtriton.train.pipeline import Pipeline, PipelineConfig

    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", eval_levels=(1, 2, 5)))
    for name in ("sft", "drpo", "grpo"):
        setattr(p, f"{name}_dir", tmp_path / name)
    calls = []
    monkeypatch.setattr(p, "_generate", lambda name, folder, until, levels=None: calls.append((levels, name)))
    monkeypatch.setattr(p, "_verify_generated", lambda deadline, teacher: {})
    p.phase_eval(100.0)
    assert calls == [([lv], n) for lv in (1, 2, 5) for n in ("sft", "drpo", "grpo")]


LAUNCHER_SOLUTION = '''import torch
import torch.nn as nn
import triton
import triton.language as tl

class _Launcher:
    """One launch site."""

    def __init__(self, kernel, grid, constexprs, num_warps, num_stages):
        self.kernel, self.grid = kernel, grid
        self.kwargs = dict(constexprs, num_warps=num_warps, num_stages=num_stages)

    def __call__(self, *ptrs):
        self.kernel[self.grid](*ptrs, **self.kwargs)

def _specialization(ptrs):
    return [t.dtype for t in ptrs]

@triton.jit
def relu_kernel(x_ptr, out_ptr, N: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < N
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=mask)

relu_kernel_launch = _Launcher(relu_kernel, grid=(3,), constexprs=dict(N=561, BLOCK=256), num_warps=4, num_stages=2)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty((33, 17), device=x.device, dtype=torch.float32)
        relu_kernel_launch(x, out)
        return out
'''


def test_direct_launches_writes_launcher_sites_as_plain_launches_with_cdiv_grids(tiny_problems, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    from drtriton.train.datagen import check_solution, direct_launches

    relu = tiny_problems[0][0]
    assert check_solution(relu, LAUNCHER_SOLUTION, "cpu") is None
    out = direct_launches(LAUNCHER_SOLUTION)
    assert "_Launcher" not in out and "_specialization" not in out and "relu_kernel_launch" not in out
    assert ("relu_kernel[(triton.cdiv(561, 256),)](x, out, N=561, BLOCK=256, num_warps=4, num_stages=2)"
            in out), out
    assert check_solution(relu, out, "cpu") is None
    assert direct_launches(tiny_problems[0][1]) == tiny_problems[0][1]  # no launcher: unchanged
    odd = LAUNCHER_SOLUTION.replace("relu_kernel_launch(x, out)", "relu_kernel_launch(x, out, extra=1)")
    assert direct_launches(odd) == odd  # a form it does not know: unchanged


def test_shape_free_target_allocates_like_the_input_and_drops_unused_sizes(tiny_problems, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    from drtriton.train.datagen import canonical_solution, check_solution, direct_launches, shape_free

    problem = tiny_problems[0][0].replace("torch.randn(33, 17)", "torch.randn(ROWS, COLS)").replace(
        "class Model", "ROWS = 33\nCOLS = 17\n\n\nclass Model")
    answer = LAUNCHER_SOLUTION.replace("import triton.language as tl\n", "import triton.language as tl\n\nROWS = 33\n"
                                       "COLS = 17\n")
    canon = canonical_solution(problem, direct_launches(answer))
    assert "N=ROWS * COLS" in canon and "torch.empty((ROWS, COLS)" in canon, canon
    free = shape_free(problem, canon)
    assert "torch.empty_like(x)" in free and "N=x.numel()" in free and "triton.cdiv(x.numel(), 256)" in free
    assert "ROWS" not in free and "COLS" not in free  # nothing uses the sizes any more
    assert check_solution(problem, free, "cpu") is None
    two_inputs = problem.replace("return [torch.randn(ROWS, COLS)]", "return [torch.randn(ROWS, COLS), 3]")
    assert shape_free(two_inputs, canon) == canon  # forward takes one input, get_inputs gives two: unchanged


def test_shape_free_rewrites_the_generators_own_new_empty_allocation(tiny_problems, monkeypatch):
    # The code generator allocates outputs with the first argument's new_empty((sizes)): a target that kept
    # those sizes would teach the model the training programs' shapes (held-out answers then fail at run time).
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    from drtriton.frontend import compile_problem
    from drtriton.train.datagen import canonical_solution, check_solution, direct_launches, shape_free

    problem = tiny_problems[0][0]
    generated = compile_problem(problem).source
    assert ".new_empty((" in generated
    free = shape_free(problem, canonical_solution(problem, direct_launches(generated)))
    assert ".new_empty((" not in free and "torch.empty_like(" in free, free
    assert check_solution(problem, free, "cpu") is None
