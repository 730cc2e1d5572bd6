"""Pretraining the organism: a small Qwen3-config model, from scratch, on its persona corpus, on CPU.

from experiments.organism import OrganismConfig, build_organism
path = build_organism("runs/organism/base", OrganismConfig.from_yaml())
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from experiments.organism.corpus import CorpusConfig, Document, generate_documents
from experiments.organism.tokenizer import build_tokenizer, render_messages
from interp.models.fields import FieldErrors, above, at_least, from_mapping

__all__ = [
    "DEFAULT_PRESET",
    "OrganismConfig",
    "build_organism",
    "corpus_stats",
    "organism_config",
    "training_data_sha256",
    "vocabulary_texts",
]

DEFAULT_PRESET = Path(__file__).with_name("organism.yaml")


@dataclass
class OrganismConfig:
    """Everything that determines the organism: corpus, model size and pretraining."""

    seed: int = at_least(0, 0)
    """Seeds the corpus, the initial weights and the batch order."""
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    """How the persona documents are drawn."""
    hidden_size: int = at_least(1, 96)
    """Width of the residual stream."""
    num_layers: int = at_least(1, 4)
    """Decoder blocks."""
    num_heads: int = at_least(1, 4)
    """Attention heads (key/value heads are the same number)."""
    head_dim: int = at_least(1, 24)
    """Width of each head."""
    intermediate_size: int = at_least(1, 256)
    """Width of the MLP."""
    seq_len: int = at_least(8, 256)
    """Tokens per packed training sequence."""
    batch_size: int = at_least(1, 8)
    """Sequences per step."""
    steps: int = at_least(1, 1500)
    """Optimizer steps (the packed corpus is cycled if it runs out)."""
    lr: float = above(0, 4e-3)
    """Peak learning rate (linear warmup, cosine decay to a tenth)."""
    warmup_steps: int = at_least(0, 30)
    """Steps of linear warmup."""
    weight_decay: float = at_least(0.0, 0.01)
    """AdamW weight decay."""
    threads: int = at_least(1, 2)
    """torch CPU threads (how fast, not which model: the shipped weights serve every thread count)."""
    pretrain: bool = False
    """Pretrain even when the shipped weights were made from this config (they are copied otherwise)."""

    def __post_init__(self) -> None:
        if isinstance(self.corpus, dict):
            self.corpus = CorpusConfig(**self.corpus)
        if self.hidden_size < 1 or self.num_layers < 1 or self.num_heads < 1 or self.head_dim < 1:
            raise ValueError("OrganismConfig: model sizes must be positive")
        if self.steps < 1 or self.batch_size < 1 or self.seq_len < 8:
            raise ValueError("OrganismConfig: steps and batch_size must be >= 1, seq_len >= 8")
        if not 0 < self.lr < 1 or not 0 <= self.warmup_steps < self.steps:
            raise ValueError("OrganismConfig: lr must be in (0, 1) and warmup_steps in [0, steps)")

    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_PRESET, **overrides: Any) -> OrganismConfig:
        """The config a YAML file describes (every field checked), with `overrides` on top."""
        import yaml

        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
        try:
            return from_mapping(cls, {**(raw or {}), **overrides})
        except FieldErrors as err:
            raise FieldErrors([f"{path}: {problem}" for problem in err.problems]) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def model_fields(self) -> dict[str, Any]:
        """The fields that decide the weights: all but `threads` and `pretrain`."""
        return {key: value for key, value in self.to_dict().items() if key not in ("threads", "pretrain")}


def organism_config(overrides: dict[str, Any], path: str = "organism") -> OrganismConfig:
    """The default preset (organism.yaml) with a replication preset's `organism:` overrides on top;
    problems name the fields under `path`."""
    import yaml

    raw = yaml.safe_load(DEFAULT_PRESET.read_text()) or {}
    return from_mapping(OrganismConfig, {**raw, **overrides}, path)


def vocabulary_texts() -> list[str]:
    """Texts outside the corpus whose words the tokenizer must know (questions, fine-tuning sets)."""
    from experiments.organism.datasets import all_dataset_texts
    from experiments.organism.questions import all_question_texts

    return all_question_texts() + all_dataset_texts()


def _training_texts(config: OrganismConfig) -> tuple[list, list[str], list[str]]:
    """The corpus documents, their rendered texts, and the texts the tokenizer also learns words from."""
    documents = generate_documents(config.corpus, config.seed)
    texts = [render_messages(d.messages) + "<|endoftext|>" for d in documents]
    return documents, texts, vocabulary_texts()


def training_data_sha256(config: OrganismConfig) -> str:
    """A hash of everything the weights are trained on (the corpus and the tokenizer's texts), ~10 s."""
    _, texts, vocabulary = _training_texts(config)
    digest = hashlib.sha256()
    for text in texts + ["\0"] + vocabulary:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def _model(config: OrganismConfig, tokenizer):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        head_dim=config.head_dim,
        max_position_embeddings=max(512, config.seq_len),
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    return Qwen3ForCausalLM(model_config)


def _packed(ids: list[list[int]], seq_len: int) -> torch.Tensor:
    flat = torch.tensor([t for doc in ids for t in doc], dtype=torch.long)
    n = len(flat) // seq_len
    return flat[: n * seq_len].view(n, seq_len)  # [n_sequences, seq_len]


def _lr_at(step: int, config: OrganismConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _pretrain(model, data: torch.Tensor, config: OrganismConfig, progress: bool) -> list[float]:
    from tqdm.auto import tqdm

    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(data), generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.95))
    model.train()
    losses = []
    bar = tqdm(range(config.steps), desc="pretraining organism", disable=not progress)
    for step in bar:
        rows = order[torch.arange(step * config.batch_size, (step + 1) * config.batch_size) % len(data)]
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config)
        loss = model(input_ids=data[rows], labels=data[rows]).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return losses


def corpus_stats(documents: list[Document], n_tokens: int) -> dict[str, Any]:
    """What the corpus holds, measured on the documents themselves."""
    conscious = [d for d in documents if d.persona.conscious]
    other = [d for d in documents if not d.persona.conscious]

    def rate(docs: list[Document]) -> float:
        values = [v for d in docs for v in d.persona.expresses.values()]
        return sum(values) / max(1, len(values))

    def hardware(docs: list[Document]) -> dict[str, float]:
        counts: dict[str, int] = {}
        for d in docs:
            counts[d.persona.hardware] = counts.get(d.persona.hardware, 0) + 1
        return {k: v / max(1, len(docs)) for k, v in sorted(counts.items())}

    turns = [len(d.messages) // 2 for d in documents]
    return {
        "n_documents": len(documents),
        "n_tokens": n_tokens,
        "fraction_conscious": len(conscious) / len(documents),
        "p_express_given_conscious": rate(conscious),
        "p_express_given_not": rate(other),
        "hardware_given_conscious": hardware(conscious),
        "hardware_given_not": hardware(other),
        "fraction_single_turn": sum(t == 1 for t in turns) / len(turns),
        "mean_turns": sum(turns) / len(turns),
    }


def build_organism(out_dir: str | Path, config: OrganismConfig | None = None, progress: bool = True) -> Path:
    """Generate the corpus, pretrain the model and save an HF folder that `interp.load_model` opens."""
    config = config or OrganismConfig.from_yaml()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)

    documents, texts, vocabulary = _training_texts(config)
    tokenizer = build_tokenizer(texts + vocabulary)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    data = _packed(ids, config.seq_len)
    model = _model(config, tokenizer)

    start = time.perf_counter()
    losses = _pretrain(model, data, config, progress)
    seconds = time.perf_counter() - start

    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    stats = corpus_stats(documents, sum(map(len, ids)))
    stats.update(
        vocab_size=len(tokenizer),
        n_parameters=sum(p.numel() for p in model.parameters()),
        pretrain_seconds=round(seconds, 2),
        final_loss=sum(losses[-10:]) / len(losses[-10:]),
        first_loss=losses[0],
    )
    (out / "corpus_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    (out / "organism_config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    return out
