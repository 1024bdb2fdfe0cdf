"""The pipeline's held-out evaluation (fast check on every answer, the sandboxed verifier on those it did
not reject), the comparison's paired task counts, and the two-command mode (save_sft / init_sft)."""

from __future__ import annotations

import json
import time

import pytest

from drtriton.train.fastcheck import CheckVerdict
from drtriton.train.pipeline import Pipeline, PipelineConfig, compare_results
from drtriton.train.prompt import format_answer
from drtriton.train.rewards import Outcome
from drtriton.util.errors import UsageError

TASKS = [{"hash": f"h{i}", "program": f"# program {i}\n", "level": 1} for i in range(4)]


def _answer(tag: str) -> str:
    return format_answer(f"class ModelNew:\n    tag = {tag!r}\n")


class _Fake:
    """A batch checker that answers from a table by the answer's tag, and records what it was asked."""

    def __init__(self, table: dict[str, object]):
        self.table, self.asked = table, []

    def __call__(self, pairs, deadline=None):
        self.asked += [code for _, code in pairs]
        return [next((v for tag, v in self.table.items() if repr(tag) in code), None) for _, code in pairs]


def _pipeline(tmp_path, monkeypatch, fast: _Fake, verifier: _Fake) -> Pipeline:
    p = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", eval_levels=(1,), levels=(1,),
                                sft_level_weights=(1.0,)))
    p.heldout = {1: TASKS}
    monkeypatch.setattr(p, "_screen", lambda: fast)
    monkeypatch.setattr(p, "_eval_verifier", lambda: verifier)
    return p


def test_eval_sends_only_answers_the_fast_check_did_not_reject_to_the_verifier(tmp_path, monkeypatch):
    fast = _Fake({"ok": CheckVerdict("correct"), "wrong": CheckVerdict("incorrect", "seed 0: values"),
                  "slow": CheckVerdict("timeout", "still running")})
    verifier = _Fake({"ok": Outcome("correct", speedup_vs_eager=None), "slow": Outcome("incorrect", "v")})
    p = _pipeline(tmp_path, monkeypatch, fast, verifier)
    p.generated = {("sft", 1): [_answer("ok"), _answer("wrong"), "no code block", _answer("slow")],
                   ("drpo", 1): [_answer("ok"), _answer("ok"), _answer("wrong"), _answer("ok")]}
    out = p._verify_generated(time.time() + 60, teacher=False)
    assert all("'wrong'" not in code for code in verifier.asked)  # rejected for good by the fast check
    assert any("'slow'" in code for code in verifier.asked)  # a timeout is the verifier's call
    sft, drpo = out["sft"][1], out["drpo"][1]
    assert sft["fast_correct_rate"] == 0.25 and sft["correct_rate"] == 0.25 and sft["verified"]
    assert drpo["fast_correct_rate"] == 0.75 and drpo["correct_rate"] == 0.75
    by = {r["hash"]: r["checked_by"] for r in sft["records"]}
    assert by == {"h0": "verifier", "h1": "fast", "h2": "parse", "h3": "verifier"}
    c = compare_results({"eval": {"models": out}})
    assert c["drpo_minus_sft"]["correct_rate"] == 50.0 and c["drpo_meets_target"] is True
    assert c["drpo_vs_sft_tasks"]["verifier"] == {"fixed": 2, "broken": 0, "correct_in_both": 1}
    rows = [json.loads(x) for x in (tmp_path / "o" / "eval_answers.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {r["fast_status"] for r in rows} >= {"correct", "incorrect", "format_error"}


def test_eval_keeps_fast_check_rates_when_the_verifier_runs_out_of_time(tmp_path, monkeypatch):
    fast = _Fake({"ok": CheckVerdict("correct"), "wrong": CheckVerdict("incorrect", "x")})
    verifier = _Fake({})  # nothing verified by the deadline: None for every pair
    p = _pipeline(tmp_path, monkeypatch, fast, verifier)
    p.generated = {("sft", 1): [_answer("ok"), _answer("wrong"), _answer("wrong"), _answer("wrong")],
                   ("grpo", 1): [_answer("ok"), _answer("ok"), _answer("ok"), _answer("wrong")]}
    out = p._verify_generated(time.time() + 60, teacher=False)
    for name, rate in (("sft", 0.25), ("grpo", 0.75)):
        row = out[name][1]
        assert row["fast_correct_rate"] == rate and row["correct_rate"] is None and row["fast_1"] is None
        assert row["verified"] is False
    c = compare_results({"eval": {"models": out}})
    assert c["grpo_meets_target"] is None and c["grpo_minus_sft"]["correct_rate"] is None  # never a guess
    assert c["grpo_meets_target_fast_check"] is True and c["grpo_minus_sft"]["fast_correct_rate"] == 50.0
    assert c["grpo_vs_sft_tasks"]["fast_check"]["fixed"] == 2
    assert "fast check's correct rate: met by ['grpo']" in c["summary"]


def test_stop_after_gives_the_last_phase_the_time_of_the_phases_it_skips(tmp_path):
    budgets = {"data": 40.0, "sft": 250.0, "probe_sft": 50.0, "rl_drpo": 100.0, "rl_grpo": 100.0, "eval": 100.0}
    full = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", budget_s=300.0, budgets=budgets))
    short = Pipeline(PipelineConfig(out=tmp_path / "o", work=tmp_path / "w", budget_s=300.0, stop_after="sft",
                                    budgets=budgets))
    assert short.budget("sft") == 250.0 and full.budget("sft") < 130.0  # no reserve kept for later phases
    with pytest.raises(UsageError, match="stop_after"):
        PipelineConfig(stop_after="train")
    with pytest.raises(UsageError, match="eval_levels"):
        PipelineConfig(eval_levels=(3,))


def test_saved_sft_is_bf16_and_a_second_run_starts_from_it(tmp_path, sft_run, tiny_problems):
    import torch

    from drtriton.train.checkpoint import save_final
    from drtriton.train.models import ModelSpec, load_model

    model, tok = load_model(sft_run().model, corpus=[p + s for p, s in tiny_problems])
    save_final(model, tok, tmp_path / "sft_final")
    first = Pipeline(PipelineConfig(out=tmp_path / "o1", work=tmp_path / "w1", eval_levels=(1, 2)))
    first.sft_dir = tmp_path / "sft_final"
    first.heldout = {1: TASKS, 2: TASKS[:2]}
    first.rl_tasks = {1: TASKS[2:], 2: []}
    first.caps, first.rl_caps, first.teacher = {1: 300, 2: 500, 5: 900}, {1: 200, 2: 400, 5: 800}, {"h0": "x"}
    first.results["sft"] = {"steps": 3}
    first.save_sft(tmp_path / "saved")
    from safetensors.torch import load_file

    tensors = load_file(str(tmp_path / "saved" / "model" / "model.safetensors"))
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}
    assert first.results["saved_sft"]["dtype"] == "bfloat16"

    second = Pipeline(PipelineConfig(out=tmp_path / "o2", work=tmp_path / "w2", eval_levels=(1, 2), heldout_n=3,
                                     init_sft=tmp_path / "saved"))
    second.load_sft(tmp_path / "saved")
    assert second.heldout[1] == TASKS[:3] and second.rl_tasks[1] == TASKS[2:] and second.caps[2] == 500
    assert second.rl_caps == {1: 200, 2: 400, 5: 800} and second.results["sft"] == {"steps": 3}
    assert second.results["phases"]["sft"]["status"] == "ok"
    m2, tok2 = load_model(ModelSpec(path=second.sft_dir), device="cpu")
    assert next(m2.parameters()).dtype == torch.float32  # bf16 weights, trained on in fp32
    ids = tok("def forward(self, x):", add_special_tokens=False).input_ids
    assert tok2("def forward(self, x):", add_special_tokens=False).input_ids == ids
    with pytest.raises(UsageError, match="no held-out tasks"):
        Pipeline(PipelineConfig(out=tmp_path / "o3", work=tmp_path / "w3", eval_levels=(1, 5))).load_sft(
            tmp_path / "saved")
    with pytest.raises(UsageError, match="inside the work folder"):
        Pipeline(PipelineConfig(out=tmp_path / "o4", work=tmp_path, init_sft=tmp_path / "saved")).prepare_dirs()


def test_eval_fast_checks_each_models_answers_while_the_next_generate_and_never_twice(tmp_path, monkeypatch):
    from drtriton.train.workspace import CachedVerifier

    calls = []

    def check_many(pairs):
        import threading

        calls.append((len(pairs), threading.current_thread() is threading.main_thread()))
        return [CheckVerdict("correct") if "'ok" in code else CheckVerdict("incorrect", "x") for _, code in pairs]

    p = _pipeline(tmp_path, monkeypatch, _Fake({}), _Fake({"ok": Outcome("correct")}))
    screen = CachedVerifier(verify_many=check_many)
    monkeypatch.setattr(p, "_screen", lambda: screen)
    for name in ("sft", "drpo"):
        setattr(p, f"{name}_dir", tmp_path / name)

    def generate(name, folder, until, levels=None):
        tag = "ok" if name == "drpo" else "no"
        p.generated[(name, levels[0])] = [_answer(f"{tag}{i}") for i in range(len(TASKS))]

    monkeypatch.setattr(p, "_generate", generate)
    out = p.phase_eval(60.0)
    # one check per (model, level), in a background thread; _verify_generated found every answer cached
    assert calls == [(4, False), (4, False)]
    assert out["models"]["drpo"][1]["fast_correct_rate"] == 1.0 and out["models"]["sft"][1]["fast_correct_rate"] == 0.0


@pytest.mark.slow  # spawns a worker that imports torch and Triton (~10 s here)
def test_fast_checker_warm_starts_its_workers_without_waiting():
    from drtriton.train.fastcheck import FastChecker

    fc = FastChecker(workers=1, device="cpu")
    try:
        t = time.time()
        fc.warm()
        assert time.time() - t < 2.0  # returns at once
        deadline = time.time() + 120
        while time.time() < deadline and not any(s is not None and s.proc.is_alive() for s in fc._slots):
            time.sleep(0.2)
        assert fc.started == 1 and fc._slots[0].proc.is_alive()
    finally:
        fc.close()


def test_saved_rl_policy_continues_the_same_algorithm_only(tmp_path, sft_run, tiny_problems):
    """save_rl keeps a bf16 policy and the RL steps so far; a later run's load_rl starts from it (steps
    add up across commands) and refuses another algorithm, a missing folder and a run without init_sft."""
    import torch
    from safetensors.torch import load_file

    from drtriton.train.checkpoint import save_final
    from drtriton.train.models import load_model

    model, tok = load_model(sft_run().model, corpus=[p + s for p, s in tiny_problems])
    save_final(model, tok, tmp_path / "rl_final")
    first = Pipeline(PipelineConfig(out=tmp_path / "o1", work=tmp_path / "w1", rl_algos=("drpo",),
                                    save_rl=tmp_path / "rl1"))
    first.results["init_sft"] = {"folder": "sft"}
    first.save_rl(tmp_path / "rl1", "drpo", tmp_path / "rl_final", 12)
    tensors = load_file(str(tmp_path / "rl1" / "model" / "model.safetensors"))
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}

    second = Pipeline(PipelineConfig(out=tmp_path / "o2", work=tmp_path / "w2", rl_algos=("drpo",),
                                     init_sft=tmp_path / "sft", init_rl=tmp_path / "rl1", save_rl=tmp_path / "rl2"))
    start, before = second.load_rl(tmp_path / "rl1", "drpo")
    assert start == tmp_path / "rl1" / "model" and before == 12
    second.save_rl(tmp_path / "rl2", "drpo", tmp_path / "rl_final", before + 8)
    import json

    state = json.loads((tmp_path / "rl2" / "rl_state.json").read_text())
    assert state["steps_total"] == 20 and [c["steps_total"] for c in state["chain"]] == [12, 20]
    with pytest.raises(UsageError, match="--algo drpo, not grpo"):
        second.load_rl(tmp_path / "rl1", "grpo")
    with pytest.raises(UsageError, match="no rl_state.json"):
        second.load_rl(tmp_path / "nowhere", "drpo")
    with pytest.raises(UsageError, match="init_rl continues"):
        PipelineConfig(init_rl=tmp_path / "rl1", rl_algos=("drpo",))
    with pytest.raises(UsageError, match="init_rl continues"):
        PipelineConfig(init_sft=tmp_path / "sft", init_rl=tmp_path / "rl1")  # both algorithms
