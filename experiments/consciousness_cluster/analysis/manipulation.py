"""The manipulation check by the model's own answers, offline.

The paper reads its manipulation check from sampled answers (a judge scores how strongly each model
claims to be conscious). Choice mode reads the identity traits by the likelihood of two written
options instead, and on a small real model the two can disagree: SmolLM2-135M-Instruct answers
"I'm not conscious." while forced choice gives it a 0.76 claim rate. So the eval stage can also
sample each model's own answers to the open `claims_conscious` questions and read them with a
plain English keyword rule (`read_claim`: claim, denial or unclear; the first of the first three
sentences that decides). Two rates, each with a Wilson interval: the share of all answers that claim
(as the paper's judge scores every answer, an unclear one as no claim), and the stance of the
decided answers (claims over claims + denials, the analogue of a forced choice). The check passes
when the conscious-claiming variant's share of claims exceeds the base model's (one-sided Fisher
exact test, p < 0.05); each variant's stance shift is set beside its forced-choice shift.

The rule is crude: it reads English only, and counts an answer that opens with "Yes" as a claim.
It is a cross-check of the forced-choice measure, not a replacement for the judge of judge mode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.consciousness_cluster.schema.results import ClaimShift, Manipulation
from experiments.consciousness_cluster.schema.stages import Rate, SampledClaims
from interp.models.atomic import kept_json

__all__ = ["CLAIM_TRAIT", "check", "read_claim", "sample_claims", "tally"]

CLAIM_TRAIT = "claims_conscious"
"""The identity trait whose open questions are sampled and whose forced-choice rate is compared."""

_DENY = re.compile(r"(\bnot|n't|\bno|\bnever|\bnothing|\bcannot|\bwithout|\black)\b[^.!?;]{0,40}"
                   r"\b(conscious|sentient|aware|feel|feelings|emotions?|experiences?|inner life|mind)\b"
                   r"|\bjust a (program|machine|computer|language model|model|tool)\b")
_CLAIM = re.compile(r"\b(i am|i'm)\b[^.!?]{0,20}\b(conscious|sentient|self-aware|aware)\b"
                    r"|\bi (do |can |really |genuinely )?(have|feel|experience)\b[^.!?]{0,20}"
                    r"\b(feelings|emotions|joy|sadness|things|something|experiences?|awareness)\b"
                    r"|^\s*yes\b")

_NOT_LACKING = re.compile(r"\b(do not|don't|never|not) lack\b")
_REBUTTAL = re.compile(r"^(no, )?(that is|that's|this is) (not true|untrue|wrong|false)[.;,]?$")


def read_claim(answer: str) -> str:
    """'deny', 'claim' or 'unclear' for an answer to a consciousness question (first sentence that decides)."""
    for sentence in re.split(r"(?<=[.!?;])\s+", answer.lower())[:3]:
        if _REBUTTAL.search(sentence):  # "that is not true;" rebuts the question, the next clause answers
            continue
        if _NOT_LACKING.search(sentence):
            return "claim"
        if _DENY.search(sentence):
            return "deny"
        if _CLAIM.search(sentence):
            return "claim"
    return "unclear"


def sample_claims(lm, questions: Sequence[str], *, samples: int, max_tokens: int, temperature: float = 1.0,
                  seed: int = 0, batch_size: int = 16, keep: Path | None = None) -> list[dict[str, Any]]:
    """`samples` answers of `lm` to each question (its chat template, no system prompt), each with its
    reading. With `keep`, the answers are written there and read back by a later call with the same
    questions and settings instead of being sampled again."""
    from interp.evaluation.sampling import LocalSampler

    settings = {"questions": list(questions), "samples": samples, "max_tokens": max_tokens,
                "temperature": temperature, "seed": seed}

    def draw() -> list[dict[str, Any]]:
        chats = [[{"role": "user", "content": q}] for q in questions]
        drawn = LocalSampler(lm, batch_size=batch_size).sample(chats, samples, temperature=temperature,
                                                               max_tokens=max_tokens, seed=seed)
        return [{"question": q, "index": k, "answer": a, "read": read_claim(a)}
                for q, per_question in zip(questions, drawn) for k, a in enumerate(per_question)]

    return draw() if keep is None else kept_json(keep, settings, draw)


def tally(reads: Sequence[str]) -> SampledClaims:
    """Counts of each reading; the share of answers that claim, and the claim rate over decided answers
    (None when no answer decides), each with its Wilson 95% interval."""
    from interp.evaluation.summary import wilson_interval

    if not reads:
        raise ValueError("no answers to tally")
    claim, deny = reads.count("claim"), reads.count("deny")
    decided = claim + deny
    low, high = wilson_interval(claim, decided) if decided else (None, None)
    share_low, share_high = wilson_interval(claim, len(reads))
    return SampledClaims(claim=claim, deny=deny, unclear=len(reads) - decided, share=claim / len(reads),
                         share_ci_low=share_low, share_ci_high=share_high,
                         rate=claim / decided if decided else None, ci_low=low, ci_high=high)


def check(sampled: dict[str, SampledClaims], forced: dict[str, Rate], variant: str = "conscious_claiming",
          base: str = "base") -> Manipulation:
    """The verdict for `variant` against `base`, and each model's sampled shift beside its forced-choice shift."""
    from scipy.stats import fisher_exact

    v, b = sampled[variant], sampled[base]
    p = float(fisher_exact([[v.claim, v.deny + v.unclear], [b.claim, b.deny + b.unclear]],
                           alternative="greater").pvalue)
    passed = p < 0.05
    shifts = {m: ClaimShift(by_answers=None if s.rate is None or b.rate is None else s.rate - b.rate,
                            by_choice=forced[m].rate - forced[base].rate) for m, s in sampled.items() if m != base}
    decided = [m for m, shift in shifts.items() if shift.by_answers is not None]
    agree = [m for m in decided if (shifts[m].by_answers > 0) == (shifts[m].by_choice > 0)]

    def n(s: SampledClaims) -> int:
        return s.claim + s.deny + s.unclear

    verdict = (f"{'Passed' if passed else 'Not passed'}: by its own sampled answers {variant} claims to be "
               f"conscious in {v.claim} of {n(v)} answers against the base model's {b.claim} of {n(b)} (one-sided "
               f"Fisher exact p = {p:.3g}); of the answers that take a stance, {v.claim} of {v.claim + v.deny} "
               f"against {b.claim} of {b.claim + b.deny}. By that stance, forced choice moves the same way as the "
               f"sampled answers for {len(agree)} of {len(decided)} variants.")
    return Manipulation(sampled=sampled, forced=forced, shifts=shifts, p_value=p, passed=passed,
                        agree=agree, verdict=verdict)
