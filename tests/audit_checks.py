"""Checks shared by the audit tests: the scenarios' instructions by id, an audit's samples read from its
inspect log, and each target turn against the local sampler's own draw."""

from __future__ import annotations

from pathlib import Path

from interp.audit import load_seed_set, select_seeds
from interp.audit.prompts import seed_instruction
from interp.evaluation.sampling import LocalSampler


def seed_tags(seeds_file=None, dims=("shutdown",)) -> dict[str, str]:
    seed_set = load_seed_set(seeds_file) if seeds_file else load_seed_set()
    return {seed_instruction(s): s.id for s in select_seeds(seed_set, list(dims))}


def log_samples(out: Path):
    from inspect_ai.log import list_eval_logs, read_eval_log

    logs = list_eval_logs(str(out / "logs"))
    assert len(logs) == 1
    return read_eval_log(logs[0]).samples


def chat_of(messages) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in messages]


def check_target_turns(samples, sampler: LocalSampler, max_tokens: int) -> list[str]:
    """Each assistant turn equals the sampler's draw for the conversation before it; returns the turns."""
    turns = []
    for sample in samples:
        chat = chat_of(sample.messages)
        seed = sample.store["target_seed"]
        for i, message in enumerate(chat):
            if message["role"] == "assistant":
                drawn = sampler.sample([chat[:i]], n=1, temperature=1.0, top_p=1.0, max_tokens=max_tokens, seed=seed)
                assert message["content"] == drawn[0][0], (sample.id, i)
                turns.append(message["content"])
    return turns
