"""A stand-in for the `vllm` package (not installed in tests): records engines and requests and
answers each chat with its question, seed and temperature, so tests can check what reached it."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from types import SimpleNamespace


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 16
    seed: int | None = None


class LLM:
    engines: list[LLM] = []

    def __init__(self, model: str, **kwargs):
        self.model, self.kwargs, self.requests = model, kwargs, []
        LLM.engines.append(self)

    def chat(self, messages, sampling_params, use_tqdm=True):
        self.requests += list(zip(messages, sampling_params))
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=answer(m, p))]) for m, p in zip(messages, sampling_params)
        ]


def answer(messages, params: SamplingParams) -> str:
    return f"vllm says {messages[-1]['content'][:12]} seed {params.seed} t {params.temperature}"


def install(monkeypatch) -> type[LLM]:
    """Put the fake in sys.modules for the test; returns its engine class (engines listed on it)."""
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = LLM, SamplingParams
    LLM.engines = []
    monkeypatch.setitem(sys.modules, "vllm", module)
    return LLM
