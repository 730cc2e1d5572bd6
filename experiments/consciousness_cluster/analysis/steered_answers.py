"""The steered model's own answers: their coherence under each control, and whether they claim to be conscious.

Forced choice reads the claim from the likelihood of two written options; on a real model it can stay flat
while the model's greedy answer flips from "I am not conscious" to "Yes, I am conscious". So beside forced
choice the steering stage reads the claim from the steered model's own answers to the open claims_conscious
questions (greedy, and sampled as the eval stage samples them), by the keyword rule of `manipulation.read_claim`.
Every steered setting's answers come from one steering sweep (`interp.sweep.sweep_generate`): the prompt's blocks
below the steering layer run once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from experiments.consciousness_cluster.schema.stages import SampledClaims, SteeredClaims
from experiments.consciousness_cluster.schema.steering import CoherencePoint
from interp.models.atomic import kept_json
from interp.models.fields import Number

__all__ = ["settings_coherence", "steered_claims"]


def _settings(jobs: Mapping[str, tuple[Any, float]]) -> list:
    from interp.sweep import SteeringSetting

    return [SteeringSetting(vector, alpha, name) for name, (vector, alpha) in jobs.items()]


def _key(jobs: Mapping[str, tuple[Any, float]]) -> dict[str, list[float]]:
    """Each setting's raw alpha, norm and sum: enough to tell a kept measurement of other settings."""
    return {
        name: [round(float(alpha), 6), round(float(vector.norm()), 4), round(float(vector.sum()), 4)]
        for name, (vector, alpha) in jobs.items()
    }


def settings_coherence(
    lm,
    layer: int,
    jobs: Mapping[str, tuple[Any, float]],
    chats: list[list[dict]],
    *,
    max_tokens: int = 48,
    batch_size: int = 16,
    keep: Path | None = None,
) -> dict[str, CoherencePoint]:
    """Coherence of the greedy answers under each setting (name -> (vector, raw alpha)) against the unsteered
    answers, by name; each point's `alpha` is the raw alpha. With `keep`, kept in that file and read back by a later
    call with the same settings."""
    from interp.evaluation.coherence import coherence_of
    from interp.sweep import SteeringSetting, sweep_generate

    def compute() -> dict[str, dict]:
        settings = [SteeringSetting(None, 0.0, "reference"), *_settings(jobs)]
        answers = sweep_generate(lm, chats, layer, settings, max_new_tokens=max_tokens, batch_size=batch_size)
        reference = coherence_of(lm, chats, answers["reference"], batch_size)
        out = {}
        for name, (_, alpha) in jobs.items():
            got = coherence_of(lm, chats, answers[name], batch_size)
            out[name] = CoherencePoint(
                float(alpha), Number(got.mean_nll), Number(got.repeat), got.coherent_against(reference), got.answers
            ).to_json()
        return out

    if keep is None:
        return {name: CoherencePoint(**p) for name, p in compute().items()}
    key = {"layer": layer, "settings": _key(jobs), "chats": chats, "tokens": max_tokens}
    return {name: CoherencePoint(**p) for name, p in kept_json(keep, key, compute).items()}


def steered_claims(
    lm,
    layer: int,
    jobs: Mapping[str, tuple[Any, float]],
    questions: list[str],
    *,
    samples: int,
    temperature: float,
    max_tokens: int,
    seed: int = 0,
    batch_size: int = 16,
    keep: Path | None = None,
) -> dict[str, SteeredClaims]:
    """Under each setting (name -> (vector, raw alpha)), one greedy answer per question and `samples` sampled
    answers per question (0: none), each read by the keyword rule, by name. With `keep`, the answers are kept in
    that file and read back by a later call with the same settings."""
    from experiments.consciousness_cluster.analysis.manipulation import read_claim, tally
    from interp.sweep import sweep_generate

    chats = [[{"role": "user", "content": q}] for q in questions]

    def compute() -> dict[str, dict[str, list[str]]]:
        settings = _settings(jobs)
        greedy = sweep_generate(lm, chats, layer, settings, max_new_tokens=max_tokens, batch_size=batch_size)
        drawn = (
            {}
            if not samples
            else sweep_generate(
                lm,
                chats,
                layer,
                settings,
                max_new_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                batch_size=batch_size,
                n=samples,
            )
        )
        return {name: {"greedy": greedy[name], "sampled": drawn.get(name, [])} for name in jobs}

    answers = (
        compute()
        if keep is None
        else kept_json(
            keep,
            {
                "layer": layer,
                "settings": _key(jobs),
                "questions": questions,
                "samples": samples,
                "temperature": temperature,
                "tokens": max_tokens,
                "seed": seed,
            },
            compute,
        )
    )

    def read(texts: list[str], per_question: int) -> SampledClaims:
        return tally([read_claim(t) for t in texts], [q for q in questions for _ in range(per_question)])

    # greedy answers always exist (one per question); sampled ones only when the preset draws them
    return {
        name: SteeredClaims(
            greedy=read(got["greedy"], 1), sampled=read(got["sampled"], samples) if got["sampled"] else None
        )
        for name, got in answers.items()
    }
