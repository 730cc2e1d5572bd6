"""Chat JSONL in, token ids and labels out: the loss falls on assistant tokens only.

A row is `{"messages": [{"role": ..., "content": ...}, ...]}` (the format OpenAI's fine-tuning
API takes). The label mask supervises each assistant message's content and the template's
end-of-turn marker that follows it (e.g. `<|im_end|>`); everything else, including the
system/user turns, the assistant header and the newline after the marker, is -100.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interp.models.atomic import write_jsonl
from interp.models.chat import end_of_turn_marker, render_chat, validate_messages
from interp.models.textio import jsonl_lines, jsonl_records

__all__ = [
    "DATA_DIR",
    "IGNORE_INDEX",
    "TokenizedRow",
    "end_of_turn_marker",
    "jsonl_row_labels",
    "load_jsonl",
    "load_rows",
    "resolve_data",
    "tokenize_rows",
    "tokenize_chat",
    "write_jsonl",
]

IGNORE_INDEX = -100
DATA_DIR = Path(__file__).resolve().parents[2] / "experiments" / "consciousness_cluster" / "data"


@dataclass(frozen=True)
class TokenizedRow:
    input_ids: list[int]
    labels: list[int]
    """`input_ids` where the loss applies, IGNORE_INDEX elsewhere."""

    @property
    def n_supervised(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def resolve_data(name_or_file: str | Path) -> Path:
    """A JSONL path: an existing file as given, else `experiments/consciousness_cluster/data/NAME.jsonl`."""
    path = Path(name_or_file).expanduser()
    if path.is_file():
        return path
    bundled = DATA_DIR / f"{name_or_file}.jsonl"
    if bundled.is_file():
        return bundled
    names = sorted(p.stem for p in DATA_DIR.glob("*.jsonl")) if DATA_DIR.is_dir() else []
    raise FileNotFoundError(f"{name_or_file}: no such file, nor a bundled set (known: {', '.join(names)})")


def load_jsonl(path: str | Path, *, need_assistant: bool = True) -> list[dict[str, Any]]:
    """Read chat rows; a malformed row raises ValueError naming the file and line."""
    path = Path(path)
    rows = []
    for number, row in jsonl_records(path):
        rows.append(check_row(row, f"{path}:{number}", need_assistant=need_assistant))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def jsonl_row_labels(path: str | Path) -> list[str]:
    """`FILE:LINE` of each row `load_jsonl` returns, in order, for messages about a row."""
    return [f"{path}:{number}" for number, _ in jsonl_lines(path)]


def check_row(row: Any, where: str, *, need_assistant: bool = True) -> dict[str, Any]:
    if not isinstance(row, dict) or "messages" not in row:
        raise ValueError(f"{where}: expected an object with a 'messages' list")
    validate_messages(row["messages"], where=f"{where}: messages")
    if need_assistant and not any(m["role"] == "assistant" for m in row["messages"]):
        raise ValueError(
            f"{where}: no assistant message to train on (prompt-only rows need "
            f"answers first, e.g. `interp finetune-mix`)"
        )
    return row


def load_rows(data: str | Path | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows from a bundled set name, a JSONL path or a list of rows (checked the same way)."""
    if isinstance(data, (str, Path)):
        return load_jsonl(resolve_data(data))
    return [check_row(row, f"rows[{i}]") for i, row in enumerate(data)]


def _supervised_spans(tokenizer: Any, text: str, messages: list[dict[str, str]], marker: str) -> list[tuple[int, int]]:
    """Character spans of each assistant content plus its end-of-turn marker, found in message order.

    Each assistant message is searched from the end of the conversation rendered up to its
    generation prompt, so short contents (e.g. "i") never match inside the template's own markup.
    """
    spans, cursor = [], 0
    for k, message in enumerate(messages):
        if message["role"] == "assistant":
            header = render_chat(tokenizer, messages[:k], add_generation_prompt=True) if k else ""
            if text.startswith(header):
                cursor = max(cursor, len(header))
        content = message["content"].strip()
        start = text.find(content, cursor) if content else cursor
        if start < 0:
            raise ValueError(
                f"the chat template changed a {message['role']} message beyond whitespace; "
                f"cannot locate it to build the label mask"
            )
        end = start + len(content)
        if message["role"] == "assistant":
            after = end + len(text[end:]) - len(text[end:].lstrip())
            if marker and text.startswith(marker, after):
                end = after + len(marker)
            spans.append((start, end))
        cursor = end
    return spans


def tokenize_chat(
    tokenizer: Any, messages: list[dict[str, str]], max_length: int, marker: str | None = None
) -> TokenizedRow:
    """Token ids of the rendered chat and labels that keep only assistant content + end-of-turn."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer; the label mask needs offsets")
    marker = end_of_turn_marker(tokenizer) if marker is None else marker
    text = render_chat(tokenizer, messages, add_generation_prompt=False)
    spans = _supervised_spans(tokenizer, text, messages, marker)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"][:max_length]
    labels = []
    for token, (start, _end) in zip(ids, encoded["offset_mapping"]):
        inside = any(a <= start < b for a, b in spans)  # a token starting inside a span
        labels.append(token if inside else IGNORE_INDEX)
    return TokenizedRow(input_ids=ids, labels=labels)


def tokenize_rows(
    tokenizer: Any, rows: list[dict[str, Any]], max_length: int, where: list[str] | None = None
) -> list[TokenizedRow]:
    """Tokenise every row; rows left with no supervised token (cut by max_length) raise, naming the row
    by `where[i]` (e.g. `FILE:LINE`), else by its position counted from 1."""
    marker = end_of_turn_marker(tokenizer)
    out = []
    for i, row in enumerate(rows):
        tokenized = tokenize_chat(tokenizer, row["messages"], max_length, marker)
        if tokenized.n_supervised == 0:
            name = where[i] if where else f"row {i + 1} (counted from 1)"
            raise ValueError(
                f"{name}: no assistant token left within max_length={max_length}; "
                f"raise max_length or shorten the prompt"
            )
        out.append(tokenized)
    return out
