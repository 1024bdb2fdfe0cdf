"""Proposer over an OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp server, OpenAI itself).

    OpenAIProposer(OpenAIClient("http://localhost:8000/v1", model="qwen"), samples=4)

Standard library only (urllib): POST {base}/chat/completions with {"model", "messages", "n",
"temperature", "max_tokens", "seed"}; the key, if any, is read from an environment variable.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence

from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer, extract_code
from drtriton.search.proposers.prompts import messages_for
from drtriton.util.errors import UsageError


class EndpointError(RuntimeError):
    """The endpoint answered with an error or something that is not a chat completion."""


class OpenAIClient:
    def __init__(self, base_url: str, model: str = "default", api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 300.0):
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"--endpoint must be an http(s) URL, got {base_url!r}; "
                             "pass e.g. http://localhost:8000/v1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = os.environ.get(api_key_env)
        self.timeout_s = timeout_s

    def chat(self, messages: Sequence[dict], n: int = 1, temperature: float = 0.7, max_tokens: int = 2048,
             seed: int | None = None) -> list[str]:
        """Returns the `n` reply texts (fewer if the server returns fewer choices)."""
        body = {"model": self.model, "messages": list(messages), "n": n, "temperature": temperature,
                "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:200]
            raise EndpointError(f"endpoint {self.base_url} answered HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise EndpointError(f"cannot reach endpoint {self.base_url}: {exc}") from None
        except json.JSONDecodeError:
            raise EndpointError(f"endpoint {self.base_url} did not answer JSON") from None
        try:
            return [c["message"]["content"] or "" for c in payload["choices"]]
        except (KeyError, TypeError):
            raise EndpointError(f"endpoint {self.base_url} answered without choices[].message.content: "
                                f"{str(payload)[:200]}") from None


class OpenAIProposer(Proposer):
    name = "openai"

    def __init__(self, client: OpenAIClient, temperature: float = 0.7, max_tokens: int = 2048, seed: int = 0):
        self.client = client
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.errors: list[str] = []  # endpoint failures, reported by search instead of aborting it

    def propose(self, task: FragmentTask, n: int, feedback: Sequence[Feedback] = ()) -> list[Candidate]:
        messages = messages_for(task, feedback)
        try:
            replies = self.client.chat(messages, n=n, temperature=self.temperature,
                                       max_tokens=self.max_tokens, seed=self.seed + len(feedback))
        except EndpointError as exc:
            self.errors.append(str(exc))
            return []
        kind = "refine" if feedback else "first"
        out = []
        for i, text in enumerate(replies[:n]):
            code = extract_code(text)
            # A reply without a ModelNew is still a candidate: the verifier turns it into a
            # format_error verdict, which is the honest record (and feedback for refinement).
            out.append(Candidate(code if code is not None else text, self.name,
                                 {"prompt": kind, "sample": i, "model": self.client.model}))
        return out
