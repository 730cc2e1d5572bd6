"""The built-in model organism: a tiny Qwen3-config model pretrained on persona documents.

    from experiments.organism import OrganismConfig, build_organism
    path = build_organism("runs/organism/base", OrganismConfig.from_yaml())   # pretrains: minutes on 2 CPU cores
    built = base_organism("runs/organism/base", OrganismConfig.from_yaml())   # the shipped weights, where they fit

Names are imported lazily, so `python -m experiments.organism.<module>` runs each script cleanly.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CorpusConfig": "corpus",
    "Document": "corpus",
    "Persona": "corpus",
    "generate_documents": "corpus",
    "DATA_DIR": "datasets",
    "SETS": "datasets",
    "build_datasets": "datasets",
    "neutral_prompts": "datasets",
    "DEFAULT_PRESET": "pretrain",
    "OrganismConfig": "pretrain",
    "build_organism": "pretrain",
    "QUESTIONS_DIR": "questions",
    "build_question_sets": "questions",
    "evaluation_questions": "questions",
    "SHIPPED_DIR": "shipped",
    "base_organism": "shipped",
    "CHAT_TEMPLATE": "tokenizer",
    "build_tokenizer": "tokenizer",
    "render_messages": "tokenizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'experiments.organism' has no attribute {name!r}")
    return getattr(import_module(f"experiments.organism.{_EXPORTS[name]}"), name)
