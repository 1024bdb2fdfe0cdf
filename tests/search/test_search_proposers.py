"""Proposers: the OpenAI-compatible client against a local HTTP server started here, refinement
prompts, code extraction, the rule-based knob space, and a tiny local Hugging Face model."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drtriton.search.proposers.base import Feedback, FragmentTask, extract_code
from drtriton.search.proposers.openai import EndpointError, OpenAIClient, OpenAIProposer
from drtriton.search.proposers.prompts import messages_for
from drtriton.search.proposers.rule import RuleProposer, knob_grid
from drtriton.util.errors import UsageError

TASK = FragmentTask("k1", "class Model:\n    pass\n", {"inputs": [], "nodes": [], "outputs": []}, "mixed")
REPLY = "Here it is:\n```python\nimport torch\nclass ModelNew(torch.nn.Module):\n    pass\n```\nDone."


class _Server:
    """A chat-completions endpoint on 127.0.0.1 that records requests and replies from a script."""

    def __init__(self, status=200, body=None):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                req = json.loads(self.rfile.read(length))
                outer.requests.append({"path": self.path, "body": req, "auth": self.headers.get("Authorization")})
                payload = body if body is not None else {
                    "choices": [{"message": {"role": "assistant", "content": REPLY}} for _ in range(req["n"])]}
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_proposer_sends_chat_request_and_extracts_model_new(monkeypatch):
    monkeypatch.setenv("DRT_TEST_KEY", "sekrit")
    with _Server() as srv:
        client = OpenAIClient(srv.url, model="tiny", api_key_env="DRT_TEST_KEY")
        cands = OpenAIProposer(client, temperature=0.5, max_tokens=64, seed=3).propose(TASK, 2)
    assert len(cands) == 2 and all(c.source.startswith("import torch") for c in cands)
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sekrit"
    assert req["body"]["model"] == "tiny" and req["body"]["n"] == 2 and req["body"]["seed"] == 3
    assert req["body"]["messages"][0]["role"] == "system"
    assert "class Model" in req["body"]["messages"][-1]["content"]


def test_openai_refinement_request_quotes_the_verifier_reason():
    fb = [Feedback("class ModelNew: ...", "incorrect", "max abs error 0.3 at seed 2", None)]
    with _Server() as srv:
        OpenAIProposer(OpenAIClient(srv.url)).propose(TASK, 1, fb)
    msgs = srv.requests[0]["body"]["messages"]
    assert msgs[-2]["role"] == "assistant" and "class ModelNew" in msgs[-2]["content"]
    assert "max abs error 0.3 at seed 2" in msgs[-1]["content"]


def test_openai_endpoint_errors_are_recorded_not_raised():
    with _Server(status=500, body={"error": "boom"}) as srv:
        prop = OpenAIProposer(OpenAIClient(srv.url))
        assert prop.propose(TASK, 1) == []
    assert "HTTP 500" in prop.errors[0]
    with _Server(body={"nope": 1}) as srv, pytest.raises(EndpointError, match="choices"):
        OpenAIClient(srv.url).chat([{"role": "user", "content": "hi"}])


def test_openai_client_rejects_a_non_http_endpoint():
    with pytest.raises(UsageError, match="http"):
        OpenAIClient("localhost:8000")


def test_refine_prompt_asks_for_speed_when_correct_and_says_when_speed_is_unmeasured():
    fast = messages_for(TASK, [Feedback("x", "correct", "", 1.25)])
    assert "1.250x" in fast[-1]["content"]
    cpu = messages_for(TASK, [Feedback("x", "correct", "", None)])
    assert "not measured" in cpu[-1]["content"]


def test_extract_code_takes_the_last_model_new_block():
    text = "```python\nclass Model: pass\n```\n```python\nclass ModelNew: a=1\n```\n```py\nclass ModelNew: a=2\n```"
    assert extract_code(text) == "class ModelNew: a=2\n"
    assert extract_code("no code here") is None
    assert extract_code("class ModelNew:\n    pass") == "class ModelNew:\n    pass\n"


def test_rule_proposer_walks_the_knob_grid_defaults_first_without_repeats():
    calls = []

    def emit(task, knobs):
        calls.append(dict(knobs))
        return f"# {sorted(knobs.items())}\nclass ModelNew: pass\n"

    prop = RuleProposer(emit, tune=True)
    first = prop.propose(TASK, 3)
    second = prop.propose(TASK, 3)
    assert calls[0] == {}
    assert len({c.source for c in first + second}) == 6
    assert len(knob_grid()) == 1 + 5 * 3 * 3
    cpu = RuleProposer(emit, tune=False)
    assert len(cpu.propose(TASK, 4)) == 1 and cpu.propose(TASK, 4) == []


def test_rule_proposer_records_generator_failures():
    def emit(task, knobs):
        raise ValueError("operator foo has no lowering")

    prop = RuleProposer(emit, tune=True)
    assert prop.propose(TASK, 4) == []
    assert "no lowering" in prop.errors[0] and len(prop.errors) == 1


def test_hf_proposer_samples_a_tiny_local_model(tmp_path):
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from drtriton.search.proposers.hf import HFProposer

    vocab = {ch: i for i, ch in enumerate(["<pad>", "<eos>", *sorted(set("abcdefghijklmnopqrstuvwxyz #:`\n()."))])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Split("", "isolated")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    cfg = transformers.GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=1, n_head=2, n_positions=2048)
    model = transformers.GPT2LMHeadModel(cfg)
    model.save_pretrained(tmp_path)
    fast.save_pretrained(tmp_path)
    prop = HFProposer.from_path(tmp_path, max_new_tokens=8, temperature=1.0)
    # the saved tokenizer itself, encoding as it did when saved (not a class picked from config.json)
    text = "def f(x): return x.a\n"
    assert prop.tokenizer(text)["input_ids"] == fast(text)["input_ids"]
    cands = prop.propose(TASK, 2)
    assert len(cands) == 2 and all(c.proposer == "hf" and isinstance(c.source, str) for c in cands)
    with pytest.raises(UsageError, match="config.json"):
        HFProposer.from_path(tmp_path / "missing")
