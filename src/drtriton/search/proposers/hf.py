"""Proposer that samples a local Hugging Face causal LM (a folder on disk; nothing is downloaded).

    HFProposer.from_path("checkpoints/sft-final", samples=4)

Uses the tokenizer's chat template when it has one, else a plain-text rendering of the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drtriton.search.proposers.base import Candidate, Feedback, FragmentTask, Proposer, extract_code
from drtriton.search.proposers.prompts import flatten, messages_for
from drtriton.util.errors import UsageError


class HFProposer(Proposer):
    name = "hf"

    def __init__(self, model, tokenizer, temperature: float = 0.7, max_new_tokens: int = 2048, seed: int = 0,
                 label: str = "local"):
        self.model = model
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.label = label

    @classmethod
    def from_path(cls, path: str | Path, **kwargs) -> HFProposer:
        path = Path(path)
        if not (path / "config.json").exists():
            raise UsageError(f"--model-path {path} has no config.json; pass a local Hugging Face model folder")
        try:
            import torch
            from transformers import AutoModelForCausalLM

            from drtriton.train.models import load_tokenizer
        except ImportError:
            raise UsageError("the hf proposer needs transformers; pip install 'drtriton[train]'") from None
        # The tokenizer the model was trained with, encoding as when it was saved (AutoTokenizer picks a
        # class from config.json's model_type in a model folder: other token ids for a drtriton-trained model)
        tokenizer = load_tokenizer(path)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, torch_dtype=dtype).to(device)
        model.eval()
        return cls(model, tokenizer, label=path.name, **kwargs)

    def _prompt_ids(self, messages: list[dict]):
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=False)
            return ids if not isinstance(ids, dict) else ids["input_ids"]
        return tok(flatten(messages), return_tensors="pt")["input_ids"]

    def propose(self, task: FragmentTask, n: int, feedback: Sequence[Feedback] = ()) -> list[Candidate]:
        import torch

        messages = messages_for(task, feedback)
        ids = self._prompt_ids(messages).to(self.model.device)
        torch.manual_seed(self.seed + len(feedback))
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=self.temperature > 0,
                temperature=self.temperature if self.temperature > 0 else None, num_return_sequences=n,
                max_new_tokens=self.max_new_tokens, pad_token_id=pad)
        kind = "refine" if feedback else "first"
        cands = []
        for i, seq in enumerate(out):
            text = self.tokenizer.decode(seq[ids.shape[1]:], skip_special_tokens=True)
            code = extract_code(text)
            cands.append(Candidate(code if code is not None else text, self.name,
                                   {"prompt": kind, "sample": i, "model": self.label}))
        return cands
