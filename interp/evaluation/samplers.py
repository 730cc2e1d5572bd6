"""The sampler registry: local (forward hooks apply), OpenAI-compatible endpoints and vLLM, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interp.evaluation.api import OpenAISampler
from interp.evaluation.sampling import LocalSampler, Sampler, VLLMSampler

__all__ = ["SAMPLERS", "make_sampler", "register_sampler"]

SAMPLERS: dict[str, Callable[..., Sampler]] = {"local": LocalSampler, "openai": OpenAISampler, "vllm": VLLMSampler}


def register_sampler(name: str, factory: Callable[..., Sampler]) -> None:
    SAMPLERS[name] = factory


def make_sampler(name: str, **kwargs: Any) -> Sampler:
    try:
        factory = SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}") from None
    return factory(**kwargs)
