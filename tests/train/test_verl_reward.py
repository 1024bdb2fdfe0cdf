"""The verl reward adapter: verl's function signatures, the same rewards as our trainers, the real verifier."""

import pyarrow.parquet as pq

from drtriton.train.data import text_hash
from drtriton.train.prompt import format_answer
from drtriton.train.verl_reward import compute_score, compute_score_batch, write_verl_parquet

KNOWN = {"correct", "format_error", "compile_error", "runtime_error", "timeout", "incorrect", "cheat_detected"}


def test_unparsable_response_scores_zero_as_flagged_format_error_without_verifying():
    out = compute_score("drtriton", "I think you should use CUDA.", "class Model: pass", {})
    assert out == {"score": 0.0, "r_correct": 0.0, "r_speed": 0.0, "speed_measured": 0.0, "flagged": 1.0,
                   "status": "format_error"}


def test_batch_adapter_scores_through_the_real_verifier_with_the_shared_reward(tiny_problems, monkeypatch):
    monkeypatch.setenv("DRTRITON_VERIFY", '{"device": "cpu", "seeds": [0], "distributions": ["normal"]}')
    (problem, solution), _ = tiny_problems
    outs = compute_score_batch(["drtriton"] * 2, [format_answer(solution), "no code"], [problem] * 2, [{}, {}])
    assert outs[0]["status"] in KNOWN and outs[1]["status"] == "format_error"
    # whatever the verifier concluded, the score is the GRPO reward of that status (speed unmeasured on CPU)
    assert outs[0]["score"] == (1.0 if outs[0]["status"] == "correct" else 0.0) == outs[0]["r_correct"]


def test_verl_parquet_rows_carry_prompt_and_program(tmp_path, tiny_problems):
    (problem, _), _ = tiny_problems
    path = write_verl_parquet([{"hash": text_hash(problem), "program": problem, "level": 1}], "train",
                              tmp_path / "train.parquet")
    row = pq.read_table(path).to_pylist()[0]
    assert row["reward_model"]["ground_truth"] == problem and row["prompt"][0]["role"] == "user"
    assert row["extra_info"]["hash"] == text_hash(problem)
