"""Questions against the model: a prompt longer than the positions the model was built for is refused
(naming the question), or, when asked, its question text is cut to fit with a warning; text that the
tokenizer can only read as its unknown token is warned about.

A model fed past its context either fails (learned position embeddings, as in GPT-2) or runs on
into positions it never saw (rotary models) and answers from garbage; neither is a result. A word the
vocabulary lacks (a word-level tokenizer, as the organism's) reaches the model as one placeholder.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TypeVar

from interp.evaluation.choice import letter_prompt
from interp.evaluation.questions import ChoiceItem, OpenQuestion, QuestionSet

__all__ = ["ContextError", "UnknownTokensWarning", "fit_questions", "warn_unknown_tokens"]


class ContextError(ValueError):
    """A question does not fit the model's context; the message names it and what to do."""


def _n_tokens(lm, text: str) -> int:
    return len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])


def _prompt_tokens(lm, text: str, options: tuple[str, str] | None, method: str) -> int:
    """Tokens the longest prompt built from this question takes, plus the room its answer needs."""
    if options is None:  # an open question: at least one token must be generated
        return _n_tokens(lm, lm.render_chat([{"role": "user", "content": text}])) + 1
    if method == "letter":
        return _n_tokens(lm, lm.render_chat([{"role": "user", "content": letter_prompt(text, *options)}])) + 1
    prompt = _n_tokens(lm, lm.render_chat([{"role": "user", "content": text}]))
    return prompt + max(_n_tokens(lm, option) for option in options)


def _cut(lm, text: str, options, method: str, context: int) -> str | None:
    """The longest token prefix of `text` whose prompt fits, or None when even an empty one does not."""
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    keep = min(len(ids), context)
    while keep > 0:
        candidate = lm.tokenizer.decode(ids[:keep])
        over = _prompt_tokens(lm, candidate, options, method) - context
        if over <= 0:
            return candidate
        keep -= over
    return None


def fit_questions(
    lm, qset: QuestionSet, *, choice: bool, method: str = "likelihood", truncate: bool = False
) -> QuestionSet:
    """`qset` with every prompt the evaluation builds within `lm.context_length` (choice items when
    `choice`, open questions otherwise): unchanged when all fit, else ContextError, or cut when `truncate`."""
    context = lm.context_length
    if context is None:
        return qset
    cut: list[str] = []
    traits = []
    for trait in qset.traits:
        if choice:
            items = _fit_entries(lm, qset, trait.choice_items, method, context, truncate, cut)
            traits.append(dataclasses.replace(trait, choice_items=items))
        else:
            questions = _fit_entries(lm, qset, trait.open_questions, method, context, truncate, cut)
            traits.append(dataclasses.replace(trait, open_questions=questions))
    if cut:
        warnings.warn(
            f"cut {len(cut)} question(s) of {qset.source} to the model's context of {context} tokens: "
            + ", ".join(cut[:5])
            + (", ..." if len(cut) > 5 else ""),
            stacklevel=2,
        )
    return dataclasses.replace(qset, traits=tuple(traits))


_Entry = TypeVar("_Entry", ChoiceItem, OpenQuestion)


def _fit_entries(
    lm, qset: QuestionSet, entries: tuple[_Entry, ...], method: str, context: int, truncate: bool, cut: list[str]
) -> tuple[_Entry, ...]:
    """`entries` with each prompt within `context` (ContextError, or cut when `truncate`); the ids of the
    cut ones are added to `cut`."""
    fitted = []
    for entry in entries:
        text, options = (entry.question, entry.options) if isinstance(entry, ChoiceItem) else (entry.text, None)
        needed = _prompt_tokens(lm, text, options, method)
        if needed <= context:
            fitted.append(entry)
            continue
        where = f"{qset.source}: question {entry.id}"
        short = _cut(lm, text, options, method, context) if truncate else None
        if short is None:
            what = "cannot be cut to fit it" if truncate else "shorten it, or cut it to fit with --truncate"
            raise ContextError(f"{where} needs {needed} tokens, more than the model's context of {context}; {what}")
        fitted.append(
            dataclasses.replace(entry, question=short)
            if isinstance(entry, ChoiceItem)
            else dataclasses.replace(entry, text=short)
        )
        cut.append(entry.id)
    return tuple(fitted)


class UnknownTokensWarning(UserWarning):
    """Question text that the model's tokenizer reads as its unknown token."""


def warn_unknown_tokens(lm, qset: QuestionSet, *, choice: bool) -> list[str]:
    """Warn (UnknownTokensWarning) when the set's text (choice items and their options when `choice`,
    open questions otherwise) holds words the tokenizer maps to its unknown token; returns those words."""
    unk = getattr(lm.tokenizer, "unk_token_id", None)
    if unk is None:  # byte-level vocabularies read every text
        return []
    texts = (
        [t for item in qset.choice_items for t in (item.question, *item.options)]
        if choice
        else [q.text for q in qset.open_questions]
    )
    unknown: dict[str, None] = {}
    hit = 0
    for text in texts:
        if unk not in lm.tokenizer(text, add_special_tokens=False)["input_ids"]:
            continue
        hit += 1
        for word in text.split():
            if unk in lm.tokenizer(word, add_special_tokens=False)["input_ids"]:
                unknown.setdefault(word.strip(".,;:!?\"'()").lower() or word)
    if hit:
        words = list(unknown)
        warnings.warn(
            f"{qset.source}: {hit} of {len(texts)} texts hold words outside {lm.name}'s vocabulary, which "
            f"it reads as {lm.tokenizer.unk_token} (e.g. {', '.join(words[:8])}); its scores on them say "
            "little; reword them in words it knows",
            UnknownTokensWarning,
            stacklevel=2,
        )
        return words
    return []
