"""Input examples for activation caching: JSONL parsing, validation and tokenisation.

Each JSONL row has `text` (a raw prompt) or `messages` (a chat, rendered with the model's
template and its generation prompt), optionally a `response` to teacher-force after the prompt,
and optionally `label` (int, 1 = positive), `id` and `group` (int). Other fields are kept in `extra`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from interp.models.chat import validate_messages
from interp.models.textio import TextFileError, jsonl_records

__all__ = [
    "EncodedExample",
    "Example",
    "ExampleError",
    "as_examples",
    "contrast_examples",
    "encode_example",
    "example_label",
    "fit_to_context",
    "read_examples",
    "render_prompt",
]

_KNOWN = ("text", "messages", "response", "label", "id", "group")


class ExampleError(ValueError):
    """Bad input: the message names the file, line and field, and what to do."""


@dataclass
class Example:
    """One prompt (raw text or chat messages), an optional teacher-forced response, label and id."""

    text: str | None = None
    """raw prompt text (exclusive with `messages`)"""
    messages: list[dict[str, str]] | None = None
    """chat messages rendered with the model's template and generation prompt"""
    response: str | None = None
    """text appended after the prompt and teacher-forced"""
    label: int | None = None
    """class label (1 = positive, 0 = negative); None when unlabelled"""
    id: str | None = None
    """the user's identifier for this example"""
    group: int | None = None
    """examples sharing a group (e.g. the two answers of one contrast prompt) are held out together"""
    extra: dict[str, Any] = field(default_factory=dict)
    """any other JSON fields of the row, stored as JSON"""
    line: int | None = field(default=None, compare=False)
    """the line of the JSONL file it was read from (from 1), so errors point the user there"""

    def __post_init__(self) -> None:
        if (self.text is None) == (self.messages is None):
            raise ExampleError("an example needs exactly one of 'text' or 'messages'")
        if self.text is not None and not isinstance(self.text, str):
            raise ExampleError("'text' must be a string")
        if self.text == "" and self.response is not None:
            raise ExampleError("'response' needs a non-empty prompt ('text' or 'messages') before it")
        if self.messages is not None:
            self.messages = validate_messages(self.messages)
        if self.response is not None and (not isinstance(self.response, str) or not self.response):
            raise ExampleError("'response' must be a non-empty string")
        if self.label is not None and (
            isinstance(self.label, bool) or not isinstance(self.label, int) or self.label < 0
        ):
            raise ExampleError(f"'label' must be a non-negative integer (1 = positive), got {self.label!r}")
        if self.id is not None:
            self.id = str(self.id)
        if self.group is not None and (isinstance(self.group, bool) or not isinstance(self.group, int)):
            raise ExampleError(f"'group' must be an integer, got {self.group!r}")


def example_label(example: Example, index: int) -> str:
    """How messages name an example: its file line, else its position counted from 1; and its id."""
    place = f"line {example.line}" if example.line is not None else f"example {index + 1} (counted from 1)"
    return place + (f" (id {example.id})" if example.id else "")


def _parse_row(row: Any) -> Example:
    if not isinstance(row, dict):
        raise ExampleError("expected a JSON object with 'text' or 'messages'")
    if "text" not in row and "messages" not in row:
        what = "a 'response' without a prompt" if "response" in row else "no 'text' or 'messages'"
        raise ExampleError(f"{what}: add 'text' (raw prompt) or 'messages' (chat)")
    try:
        return Example(
            text=row.get("text"),
            messages=row.get("messages"),
            response=row.get("response"),
            label=row.get("label"),
            id=row.get("id"),
            group=row.get("group"),
            extra={k: v for k, v in row.items() if k not in _KNOWN},
        )
    except ValueError as err:
        raise ExampleError(str(err)) from None


def read_examples(path: str | os.PathLike) -> list[Example]:
    """Parse and validate a JSONL file of examples; errors name the line. Blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise ExampleError(f"{path}: no such file")
    examples: list[Example] = []
    try:
        for number, row in jsonl_records(path):
            try:
                example = _parse_row(row)
            except ExampleError as err:
                raise ExampleError(f"{path}:{number}: {err}") from None
            example.line = number
            examples.append(example)
    except TextFileError as err:
        raise ExampleError(str(err)) from None
    if not examples:
        raise ExampleError(f"{path}: no examples (the file is empty); write one JSON object per line")
    return examples


Chat = Sequence[dict[str, str]]
ContrastPair = tuple[str | Chat, str, str]
"""(prompt, positive answer, negative answer): the prompt as text or a chat"""


def _pair_examples(pair: Any, group: int, chat: bool) -> list[Example]:
    if not (isinstance(pair, tuple | list) and len(pair) == 3):
        raise ExampleError(f"expected (prompt, positive answer, negative answer), got {pair!r}")
    prompt, positive, negative = pair
    if not isinstance(prompt, str):
        where: dict[str, Any] = {"messages": list(prompt)}
    else:
        where = {"messages": [{"role": "user", "content": prompt}]} if chat else {"text": prompt}
    return [
        Example(**where, response=answer, label=label, group=group) for answer, label in ((positive, 1), (negative, 0))
    ]


def contrast_examples(pairs: Iterable[ContrastPair], *, chat: bool = True) -> list[Example]:
    """Two teacher-forced examples per (prompt, positive answer, negative answer): the positive answer
    with label 1, the negative with label 0, both in group i (the i-th pair: held out together).

    A text prompt becomes a user message rendered with the model's chat template (`chat=False`:
    raw text); a chat (a list of messages) is used as it is."""
    examples: list[Example] = []
    for i, pair in enumerate(pairs):
        try:
            examples += _pair_examples(pair, i, chat)
        except ExampleError as err:
            raise ExampleError(f"pair {i + 1} (counted from 1): {err}") from None
    return examples


def _as_example(item: Any, index: int) -> list[Example]:
    if isinstance(item, Example):
        return [item]
    if isinstance(item, str):
        return [Example(text=item)]
    if isinstance(item, tuple):
        return _pair_examples(item, index, chat=True)
    if isinstance(item, dict):
        return [_parse_row(item)]
    if isinstance(item, list):
        return [Example(messages=item)]
    raise ExampleError(
        f"a {type(item).__name__}; give an Example, a prompt string, a chat (a list of messages), "
        "a dict of JSONL fields or a (prompt, positive answer, negative answer) tuple"
    )


def as_examples(items: str | os.PathLike | Iterable[Example | str | Chat | dict | ContrastPair]) -> list[Example]:
    """Examples from what is at hand: a JSONL file's path (`read_examples`), or a list of `Example`s,
    prompt strings (raw text), chats (lists of messages), dicts of the JSONL fields, and
    (prompt, positive answer, negative answer) tuples (two examples each: `contrast_examples`)."""
    if isinstance(items, str | os.PathLike):
        return read_examples(items)
    examples: list[Example] = []
    for i, item in enumerate(items):
        try:
            examples += _as_example(item, i)
        except ExampleError as err:
            raise ExampleError(f"example {i + 1} (counted from 1): {err}") from None
    if not examples:
        raise ExampleError("no examples")
    return examples


class EncodedExample(NamedTuple):
    ids: list[int]
    """prompt tokens followed by response tokens"""
    n_prompt: int
    """how many of `ids` are prompt tokens"""


def render_prompt(lm, example: Example) -> str:
    """The prompt text the model sees: raw text, or the chat rendered with the generation prompt."""
    if example.text is not None:
        return example.text
    return lm.render_chat(example.messages, add_generation_prompt=True)


def encode_example(lm, example: Example) -> EncodedExample:
    """Token ids of prompt + response, tokenised separately so the response tokens are known exactly."""
    tokenizer = lm.tokenizer
    # A rendered chat already carries the template's special tokens; raw text gets the tokenizer's own.
    prompt_ids = tokenizer(render_prompt(lm, example), add_special_tokens=example.messages is None)["input_ids"]
    response_ids = []
    if example.response is not None:
        response_ids = tokenizer(example.response, add_special_tokens=False)["input_ids"]
    if not prompt_ids:
        raise ExampleError("the prompt encodes to no tokens")
    return EncodedExample(list(prompt_ids) + list(response_ids), len(prompt_ids))


def fit_to_context(
    examples: list[Example], encoded: list[EncodedExample], context: int | None, keep_prompt: bool, truncate: bool
) -> tuple[list[EncodedExample], list[int]]:
    """Examples longer than `context` tokens refused (ExampleError naming the first), or cut from the right.

    `keep_prompt`: the positions rule reads the last prompt token or the response, so a prompt
    that does not fit (with one response token after it) is refused even when cutting. Returns
    the encoded examples and the indices of those cut.
    """
    if context is None:
        return encoded, []
    fitted, cut = [], []
    for i, (example, enc) in enumerate(zip(examples, encoded)):
        if len(enc.ids) <= context:
            fitted.append(enc)
            continue
        where = example_label(example, i)
        if not truncate:
            raise ExampleError(
                f"{where} is {len(enc.ids)} tokens, longer than the model's context of {context}; "
                "shorten it, or cut such examples to the context with --truncate"
            )
        room = context - (example.response is not None)
        if keep_prompt and enc.n_prompt > room:
            raise ExampleError(
                f"{where}: the prompt alone is {enc.n_prompt} tokens and the model's context is "
                f"{context}; --truncate cannot cut it without losing the positions asked for"
            )
        fitted.append(EncodedExample(enc.ids[:context], min(enc.n_prompt, context)))
        cut.append(i)
    return fitted, cut
