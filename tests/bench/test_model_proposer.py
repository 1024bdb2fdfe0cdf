"""model:DIR end to end with a tiny config-built model (random weights: its sample is no ModelNew, which is
verified like any candidate and counted as the verifier says, a format_error)."""

from pathlib import Path

import pytest

from drtriton.bench import BenchConfig, run_kernelbench

FAKE = Path(__file__).parent / "fake_kernelbench"


class FakeVerdict:
    def __init__(self, status, reason):
        self.status, self.reason = status, reason

    def to_json(self):
        return {"status": self.status, "reason": self.reason}


@pytest.mark.slow  # builds a tokenizer and samples up to 2048 tokens on CPU
def test_model_proposer_samples_a_local_model_and_records_no_candidate(tmp_path):
    pytest.importorskip("transformers")
    from drtriton.train.models import ModelSpec, load_model

    corpus = [p.read_text() for p in FAKE.rglob("*.py")] * 4
    model, tokenizer = load_model(ModelSpec(builtin="test", tokenizer_dir=tmp_path / "tok", vocab_size=400),
                                  corpus=corpus)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")

    seen = []

    def verifier(problem_src, candidate_src, config):
        seen.append(candidate_src)
        return FakeVerdict("correct" if "class ModelNew" in candidate_src else "format_error", "no ModelNew")

    run = run_kernelbench(BenchConfig(path=FAKE, level=1, problems="2", proposer=f"model:{tmp_path / 'model'}",
                                      out=tmp_path / "runs", check_degenerate=False), verify_fn=verifier)
    row = run.rows[0]
    assert len(seen) == 1 and row.status == "format_error" and row.propose_s > 0
    assert run.summary.overall.vs["eager"].fast[0.0] == 0.0
