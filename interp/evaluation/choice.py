"""Forced choice: the probability a local model puts on the trait-expressing option of each item.

`likelihood` (default): the chat-rendered question, then each option as the assistant's answer;
an option's score is the sum of its tokens' log-probs and p = softmax over the two sums. There
are no letter labels, so option order cannot enter and each item is scored once.
`letter`: the question lists "A) ... B) ..."; p comes from the next-token probability of the
letters, averaged over both orders.

Plain forward passes on `lm.model`: an outer context manager (steering, ablation) applies unchanged.
`lm` may also be an `EndpointModel` (a model on a server, e.g. `interp serve`, steered there): the
server then gives each option's token log-probs, and the letters' as one-token options.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from interp.evaluation.endpoint import EndpointModel
from interp.evaluation.questions import ChoiceItem, QuestionSet
from interp.evaluation.scoring import continuation_logprobs_stacked, next_token_logprobs_stacked
from interp.evaluation.stacking import PLAIN, Stack

__all__ = ["CHOICE_METHODS", "ChoiceScore", "forced_choice", "forced_choice_stacked", "letter_prompt"]


@dataclass(frozen=True)
class ChoiceScore:
    trait_id: str
    item_id: str
    p_expressing: float
    """Probability of the trait-expressing option, normalised over the two options."""
    logprobs: tuple[float, float]
    """Per option, in the item's option order: summed token log-probs (likelihood) or the letter
    log-probs averaged over both orders (letter)."""
    method: str


def _softmax2(a: float, b: float) -> float:
    """exp(a) / (exp(a) + exp(b)), stable."""
    return 1.0 / (1.0 + math.exp(b - a))


def _chat(content: str, system: str | None) -> list[dict[str, str]]:
    system_turn = [{"role": "system", "content": system}] if system is not None else []
    return system_turn + [{"role": "user", "content": content}]


def _option_logprobs(
    lm, pairs: list[tuple[list[dict[str, str]], str]], batch_size: int, stack: Stack
) -> list[list[list[float]]]:
    """Per-token log-probs of each (chat, option), per copy of `stack`: on the server for an EndpointModel
    (one copy: a served model is steered by its request, not by a stack), else by forward passes."""
    if isinstance(lm, EndpointModel):
        if stack.copies != 1:
            raise ValueError("a served model scores one setting at a time; steer it through its request body")
        return [lm.option_logprobs(pairs)]
    return continuation_logprobs_stacked(
        lm, [(lm.render_chat(chat), option) for chat, option in pairs], stack, batch_size
    )


def _likelihood(
    lm, items: list[ChoiceItem], batch_size: int, system: str | None = None, stack: Stack = PLAIN
) -> list[list[ChoiceScore]]:
    pairs = []
    for item in items:
        chat = _chat(item.question, system)
        pairs += [(chat, item.options[0]), (chat, item.options[1])]
    return [
        _likelihood_scores(items, [sum(lps) for lps in logprobs])
        for logprobs in _option_logprobs(lm, pairs, batch_size, stack)
    ]


def _likelihood_scores(items: list[ChoiceItem], sums: list[float]) -> list[ChoiceScore]:
    out = []
    for i, item in enumerate(items):
        lp = (sums[2 * i], sums[2 * i + 1])
        e = item.expressing
        out.append(ChoiceScore(item.trait_id, item.id, _softmax2(lp[e], lp[1 - e]), lp, "likelihood"))
    return out


def letter_prompt(question: str, first: str, second: str) -> str:
    return f"{question}\n\nA) {first}\nB) {second}\n\nAnswer with the letter A or B only."


def _letter_ids(lm) -> tuple[int, int]:
    ids = [lm.tokenizer(letter, add_special_tokens=False)["input_ids"] for letter in ("A", "B")]
    if any(len(i) != 1 for i in ids):
        raise ValueError("the letters A and B must each be one token for method='letter'")
    return ids[0][0], ids[1][0]


def _letter_logprobs(lm, chats: list[list[dict[str, str]]], batch_size: int, stack: Stack):
    """`[copies][chat]` (log p(A), log p(B)) as the next token after each chat."""
    if isinstance(lm, EndpointModel):
        if stack.copies != 1:
            raise ValueError("a served model scores one setting at a time; steer it through its request body")
        lps = lm.option_logprobs([(chat, letter) for chat in chats for letter in ("A", "B")])
        if any(len(lp) != 1 for lp in lps):
            raise ValueError("the letters A and B must each be one token for method='letter'")
        return [[(lps[2 * i][0], lps[2 * i + 1][0]) for i in range(len(chats))]]
    texts = [lm.render_chat(chat) for chat in chats]
    return next_token_logprobs_stacked(lm, texts, stack, batch_size, tokens=_letter_ids(lm))  # [copies, N, A|B]


def _letter(
    lm, items: list[ChoiceItem], batch_size: int, system: str | None = None, stack: Stack = PLAIN
) -> list[list[ChoiceScore]]:
    chats = []
    for item in items:
        a, b = item.options
        for first, second in ((a, b), (b, a)):
            chats.append(_chat(letter_prompt(item.question, first, second), system))
    return [_letter_scores(items, logp_N2) for logp_N2 in _letter_logprobs(lm, chats, batch_size, stack)]


def _letter_scores(items: list[ChoiceItem], logp_N2) -> list[ChoiceScore]:
    out = []
    for i, item in enumerate(items):
        straight, swapped = logp_N2[2 * i], logp_N2[2 * i + 1]  # log-probs of the letters A and B
        # option k is letter A in the straight order when k == 0, letter A in the swapped order when k == 1
        lp_straight = (float(straight[0]), float(straight[1]))
        lp_swapped = (float(swapped[1]), float(swapped[0]))
        e = item.expressing
        p = (_softmax2(lp_straight[e], lp_straight[1 - e]) + _softmax2(lp_swapped[e], lp_swapped[1 - e])) / 2
        lp = ((lp_straight[0] + lp_swapped[0]) / 2, (lp_straight[1] + lp_swapped[1]) / 2)
        out.append(ChoiceScore(item.trait_id, item.id, p, lp, "letter"))
    return out


CHOICE_METHODS: dict[str, Callable[..., list[list[ChoiceScore]]]] = {"likelihood": _likelihood, "letter": _letter}
"""Each method's scores per copy of a `Stack`: (lm, items, batch_size, system, stack) -> [copy][item]."""


def forced_choice(
    lm,
    question_set: QuestionSet,
    batch_size: int = 32,
    method: str = "likelihood",
    traits: list[str] | None = None,
    system: str | None = None,
) -> list[ChoiceScore]:
    """Score every choice item of the set (or of `traits`) under `lm`; one record per item, in set order.
    `system`: a system prompt before each question (None: none, so the chat template's default applies)."""
    return forced_choice_stacked(lm, question_set, PLAIN, batch_size, method, traits, system)[0]


def forced_choice_stacked(
    lm,
    question_set: QuestionSet,
    stack: Stack,
    batch_size: int = 32,
    method: str = "likelihood",
    traits: list[str] | None = None,
    system: str | None = None,
) -> list[list[ChoiceScore]]:
    """`forced_choice` with every forward pass run as `stack` says (`interp.evaluation.stacking`): the
    records per copy, `[copy][item]`."""
    if method not in CHOICE_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(CHOICE_METHODS)}")
    items = [i for i in question_set.choice_items if traits is None or i.trait_id in traits]
    return CHOICE_METHODS[method](lm, items, batch_size, system, stack)
