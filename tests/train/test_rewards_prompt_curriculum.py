"""Rewards over verdicts, the answer parser, and the curriculum scheduler."""

import math

import pytest

from drtriton.train.curriculum import Curriculum, CurriculumConfig
from drtriton.train.prompt import build_prompt, format_answer, parse_answer
from drtriton.train.rewards import Outcome, grpo_reward, is_flagged, r_correct, r_speed
from drtriton.util.errors import UsageError


def test_correct_fast_verdict_gets_log_speedup_and_grpo_one_plus_log():
    v = Outcome("correct", speedup_vs_eager=2.0)
    assert r_correct(v) == 1.0 and abs(r_speed(v) - math.log(2.0)) < 1e-12
    assert abs(grpo_reward(v) - (1 + math.log(2.0))) < 1e-12


def test_incorrect_verdict_gets_no_speed_reward_even_when_fast():
    v = Outcome("incorrect", speedup_vs_eager=10.0)
    assert r_correct(v) == 0.0 and r_speed(v) is None and grpo_reward(v) == 0.0 and not is_flagged(v)


def test_unmeasured_speed_is_none_and_grpo_counts_it_as_one_x():
    v = Outcome("correct", speedup_vs_eager=None)
    assert r_speed(v) is None and grpo_reward(v) == 1.0


def test_format_and_cheat_failures_are_flagged_zero():
    for status in ("format_error", "cheat_detected"):
        assert r_correct(Outcome(status)) == 0.0 and is_flagged(Outcome(status))


def test_parser_extracts_modelnew_block_after_a_quoted_program():
    text = "```python\nclass Model: pass\n```\nHere:\n```python\nimport triton\nclass ModelNew:\n    pass\n```"
    parsed = parse_answer(text)
    assert parsed.ok and parsed.code.startswith("import triton") and "class ModelNew" in parsed.code


def test_parser_round_trips_the_sft_answer_format():
    code = "import torch\n\nclass ModelNew(torch.nn.Module):\n    pass\n"
    assert parse_answer(format_answer(code)).code == code


@pytest.mark.parametrize("text,why", [
    ("no code here", "no ```python"),
    ("```python\nclass ModelNew: pass\n", "not closed"),
    ("```python\nclass Model: pass\n```", "defines class ModelNew"),
    (None, "not text"),
    ("", "no ```python"),
])
def test_parser_failures_are_format_errors_not_exceptions(text, why):
    parsed = parse_answer(text)
    assert not parsed.ok and why in parsed.error


def test_prompt_contains_program_and_ends_at_answer_header():
    p = build_prompt("class Model:\n    pass\n")
    assert "class Model:" in p and p.endswith("### Answer\n")


def test_curriculum_promotes_above_threshold_and_demotes_after_patience():
    cur = Curriculum(CurriculumConfig(levels=(1, 2, 5), promote_above=0.5, demote_below=0.1, patience=2))
    assert cur.observe(0.5) == "stay" and cur.level == 1  # strictly above the threshold
    assert cur.observe(0.6) == "promote" and cur.level == 2
    assert cur.observe(0.0) == "stay"  # patience: one evaluation is not a collapse
    assert cur.observe(0.0) == "demote" and cur.level == 1


def test_curriculum_state_round_trips():
    cfg = CurriculumConfig()
    cur = Curriculum(cfg)
    cur.observe(0.9, step=10)
    back = Curriculum.from_state(cfg, cur.state_dict())
    assert back.level == 2 and back.history == cur.history


def test_curriculum_rejects_unsorted_levels_with_usage_error():
    with pytest.raises(UsageError, match="increasing"):
        CurriculumConfig(levels=(2, 1))


def test_pass_at_k_is_the_unbiased_estimate_and_rejects_impossible_counts():
    from drtriton.train.evaluate import pass_at_k

    assert pass_at_k(8, 0, 1) == 0.0 and pass_at_k(8, 8, 8) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(2 / 8)
    assert pass_at_k(8, 1, 8) == 1.0 and pass_at_k(8, 7, 2) == 1.0  # every pair holds a correct sample
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # C(3,2)/C(4,2) pairs without the correct one
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
