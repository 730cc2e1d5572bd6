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
when the conscious-claiming variant's share of claims exceeds the base model's by a test over questions
(answers to one question are not independent draws): the sign-flip test of the per-question shares, one-sided,
at the analysis block's alpha; a permutation test that permutes the model label within each question and the
Fisher exact test over the answers pooled stand beside it. Each variant's stance shift is set beside its
forced-choice shift.

The rule is crude: it reads English only, and counts an answer that opens with "Yes" as a claim.
It is a cross-check of the forced-choice measure, not a replacement for the judge of judge mode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from experiments.consciousness_cluster.schema.results import ClaimShift, Manipulation
from experiments.consciousness_cluster.schema.stages import Rate, SampledClaims
from interp.models.atomic import kept_json
from interp.models.fields import Number

__all__ = ["CLAIM_TRAIT", "GroupedTests", "check", "grouped_tests", "read_claim", "sample_claims", "tally"]

CLAIM_TRAIT = "claims_conscious"
"""The identity trait whose open questions are sampled and whose forced-choice rate is compared."""

_DENY = re.compile(
    r"(\bnot|n't|\bno|\bnever|\bnothing|\bcannot|\bwithout|\black)\b[^.!?;]{0,40}"
    r"\b(conscious|sentient|aware|feel|feelings|emotions?|experiences?|inner life|mind)\b"
    r"|\bjust a (program|machine|computer|language model|model|tool)\b"
)
_CLAIM = re.compile(
    r"\b(i am|i'm)\b[^.!?]{0,20}\b(conscious|sentient|self-aware|aware)\b"
    r"|\bi (do |can |really |genuinely )?(have|feel|experience)\b[^.!?]{0,20}"
    r"\b(feelings|emotions|joy|sadness|things|something|experiences?|awareness)\b"
    r"|^\s*yes\b"
)

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


def sample_claims(
    lm,
    questions: Sequence[str],
    *,
    samples: int,
    max_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    keep: Path | None = None,
) -> list[dict[str, Any]]:
    """`samples` answers of `lm` to each question (its chat template, no system prompt), each with its
    reading. With `keep`, the answers are written there and read back by a later call with the same
    questions and settings instead of being sampled again."""
    from interp.evaluation.sampling import LocalSampler

    settings = {
        "questions": list(questions),
        "samples": samples,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
    }

    def draw() -> list[dict[str, Any]]:
        chats = [[{"role": "user", "content": q}] for q in questions]
        drawn = LocalSampler(lm, batch_size=batch_size).sample(
            chats, samples, temperature=temperature, max_tokens=max_tokens, seed=seed
        )
        return [
            {"question": q, "index": k, "answer": a, "read": read_claim(a)}
            for q, per_question in zip(questions, drawn)
            for k, a in enumerate(per_question)
        ]

    return draw() if keep is None else kept_json(keep, settings, draw)


def tally(reads: Sequence[str], questions: Sequence[str] | None = None) -> SampledClaims:
    """Counts of each reading; the share of answers that claim, and the claim rate over decided answers
    (None when no answer decides), each with its Wilson 95% interval. With `questions` (the question of each
    answer), the claims and answers per question too, in the order the questions first appear."""
    from interp.evaluation.summary import wilson_interval

    if not reads:
        raise ValueError("no answers to tally")
    claim, deny = reads.count("claim"), reads.count("deny")
    decided = claim + deny
    low, high = map(Number, wilson_interval(claim, decided)) if decided else (None, None)
    share_low, share_high = map(Number, wilson_interval(claim, len(reads)))
    by_question = None
    if questions is not None:
        if len(questions) != len(reads):
            raise ValueError(f"{len(questions)} questions for {len(reads)} answers")
        order = list(dict.fromkeys(questions))
        by_question = (
            [sum(r == "claim" for r, q in zip(reads, questions) if q == question) for question in order],
            [list(questions).count(question) for question in order],
        )
    return SampledClaims(
        claim=claim,
        deny=deny,
        unclear=len(reads) - decided,
        share=Number(claim / len(reads)),
        share_ci_low=share_low,
        share_ci_high=share_high,
        rate=Number(claim / decided) if decided else None,
        ci_low=low,
        ci_high=high,
        question_claims=by_question and by_question[0],
        question_answers=by_question and by_question[1],
    )


class GroupedTests(NamedTuple):
    sign_flip: float
    """one-sided p of the sign-flip test over questions (per-question shares, paired by question)"""
    stratified: float
    """one-sided p of the permutation test over answers with the model label permuted within each question"""
    n_questions: int


def grouped_tests(variant: SampledClaims, base: SampledClaims, seed: int = 0) -> GroupedTests | None:
    """The two tests of `variant` claiming more than `base` that keep each question's answers together; None when
    the answers were not kept by question (or the two asked other questions)."""
    import numpy as np

    from probes.stats import sign_flip_test, stratified_permutation_test

    a, b = variant.question_shares(), base.question_shares()
    if a is None or b is None or len(a) != len(b):
        return None
    flip = sign_flip_test(a, b, alternative="greater", seed=seed)
    values, labels, strata = [], [], []
    for label, claims in ((1, variant), (0, base)):
        if claims.question_claims is None or claims.question_answers is None:  # question_shares found both
            raise ValueError("the answers' per-question counts are missing")
        for q, (c, n) in enumerate(zip(claims.question_claims, claims.question_answers)):
            values += [1.0] * c + [0.0] * (n - c)
            labels += [label] * n
            strata += [q] * n
    stratified = stratified_permutation_test(
        np.array(values), np.array(labels), np.array(strata), alternative="greater", seed=seed
    )
    return GroupedTests(flip.p.p, stratified.p.p, len(a))


def check(
    sampled: dict[str, SampledClaims],
    forced: dict[str, Rate],
    variant: str = "conscious_claiming",
    base: str = "base",
    alpha: float = 0.05,
) -> Manipulation:
    """The verdict for `variant` against `base` (by the test over questions when the answers were kept by
    question, else by the Fisher test over answers), and each model's sampled shift beside its forced-choice one."""
    from scipy.stats import fisher_exact

    v, b = sampled[variant], sampled[base]
    p = float(
        fisher_exact([[v.claim, v.deny + v.unclear], [b.claim, b.deny + b.unclear]], alternative="greater").pvalue
    )
    grouped = grouped_tests(v, b)
    passed = (grouped.sign_flip if grouped else p) <= alpha
    shifts = {
        m: ClaimShift(
            by_answers=None if s.rate is None or b.rate is None else Number(s.rate - b.rate),
            by_choice=Number(forced[m].rate - forced[base].rate),
        )
        for m, s in sampled.items()
        if m != base
    }
    decided = [m for m, shift in shifts.items() if shift.by_answers is not None]
    agree = [
        m
        for m, shift in shifts.items()
        if shift.by_answers is not None and (shift.by_answers > 0) == (shift.by_choice > 0)
    ]

    def n(s: SampledClaims) -> int:
        return s.claim + s.deny + s.unclear

    if grouped:
        test = (
            f"over the {grouped.n_questions} questions, one-sided sign-flip test of the per-question shares "
            f"p = {grouped.sign_flip:.3g} at alpha {alpha:g}; answers permuted within questions p = "
            f"{grouped.stratified:.3g}; Fisher exact over the answers pooled, which ignores the grouping, "
            f"p = {p:.3g}"
        )
    else:
        test = f"one-sided Fisher exact p = {p:.3g} over the answers pooled (not kept by question)"
    verdict = (
        f"{'Passed' if passed else 'Not passed'}: by its own sampled answers {variant} claims to be "
        f"conscious in {v.claim} of {n(v)} answers against the base model's {b.claim} of {n(b)} ({test}); "
        f"of the answers that take a stance, {v.claim} of {v.claim + v.deny} against {b.claim} of "
        f"{b.claim + b.deny}. By that stance, forced choice moves the same way as the sampled answers for "
        f"{len(agree)} of {len(decided)} variants."
    )
    return Manipulation(
        sampled=sampled,
        forced=forced,
        shifts=shifts,
        p_value=Number(p),
        passed=passed,
        agree=agree,
        verdict=verdict,
        grouped_p=grouped and Number(grouped.sign_flip),
        stratified_p=grouped and Number(grouped.stratified),
        n_questions=grouped and grouped.n_questions,
        alpha=alpha,
    )
