"""optimize over the real engine (FX importer, registry, code generator, sandboxed verifier) on CPU with
the Triton interpreter. Slow (a minute or more per verification on a shared CPU): marked slow."""

from pathlib import Path

import pytest

pytest.importorskip("drtriton._core")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_optimize_cli_on_an_example_writes_a_verified_model_new(tmp_path, capsys):
    from drtriton.cli import main

    rc = main(["optimize", str(ROOT / "examples" / "softmax_rows.py"), "--out", str(tmp_path / "o"),
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    assert rc == 0
    assert "class ModelNew" in (tmp_path / "o" / "model_new.py").read_text()
    assert "Speed needs a GPU" in (tmp_path / "o" / "report.md").read_text()
    assert "speed needs a GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_hybrid_composite_of_kernels_and_pytorch_steps_passes_the_real_verifier():
    from drtriton.search.backend import EngineBackend
    from drtriton.search.config import SearchConfig
    from drtriton.search.optimize import Search, _final_verdict
    from drtriton.verify import VerifyConfig

    src = (ROOT / "tests" / "problems" / "residual_mlp_block.py").read_text()
    backend = EngineBackend(VerifyConfig(policy="hybrid", seeds=(0, 1), device="cpu"))
    try:
        search = Search(src, SearchConfig(max_candidates=4, max_fragment_nodes=1, policy="hybrid"), backend)
        search.prepare()
        # Propose kernels for the first two nodes only; the other nodes stay in PyTorch.
        search.fragments = [f for f in search.fragments if f is not search.whole][:2]
        search.whole = None
        search.run_proposals()
        kinds = [o.kind for o in search.cover.options]
        assert kinds.count("kernel") == 2 and kinds.count("torch") == 2
        verdict = _final_verdict(search, search.build_composite(search.cover))
        assert verdict["status"] == "correct", verdict["reason"]
    finally:
        backend.close()


def test_single_shot_kernel_of_a_program_reading_a_module_tensor_verifies():
    # (x + self.bias) * y: self.bias is a graph input the emitter reads from the module, not a forward
    # argument. Search used to emit a forward expecting it as an argument (no verified result on the GPU).
    from drtriton.search.config import SearchConfig
    from drtriton.search.optimize import optimize

    src = (ROOT / "tests" / "problems" / "channel_bias_add.py").read_text()
    result = optimize(src, SearchConfig(max_candidates=2, policy="hybrid", extra={"device": "cpu",
                                                                                  "seeds": (0, 1)}))
    assert result.kind == "whole" and result.verdict["status"] == "correct", result.trials[0].reason
    assert result.trials[0].meta == {"knobs": {}}  # the single-shot output is the first candidate
