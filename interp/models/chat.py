"""Rendering chat messages to text through the tokenizer's template.

Tokenizers without a chat template get `FALLBACK_CHAT_TEMPLATE`, a plain role-tagged format:

    <|user|>
    Hello
    <|assistant|>
    Hi there<|end|>

Each message is `<|role|>`, a newline, the content and `<|end|>` plus a newline; the generation
prompt is `<|assistant|>` and a newline. The tags are plain text for the tokenizer, so any
vocabulary can encode them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["FALLBACK_CHAT_TEMPLATE", "end_of_turn_marker", "ensure_chat_template", "render_chat", "validate_messages"]

FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_ROLES = ("system", "user", "assistant")
_SENTINEL = "\u2063SENTINEL\u2063"


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give `tokenizer` the fallback template if it has none. Returns True when it did."""
    if getattr(tokenizer, "chat_template", None):
        return False
    warnings.warn(
        f"{type(tokenizer).__name__} has no chat template; using interp's fallback role-tagged template "
        "(see interp.models.chat.FALLBACK_CHAT_TEMPLATE)",
        stacklevel=3,
    )
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return True


def validate_messages(messages: Any, where: str = "messages") -> list[dict[str, str]]:
    """Check a chat is a list of {role, content} with known roles; errors name the position."""
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise ValueError(f"{where}: expected a non-empty list of {{'role', 'content'}} objects")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"{where}[{i}]: expected an object with 'role' and 'content'")
        if message["role"] not in _ROLES:
            raise ValueError(f"{where}[{i}].role: {message['role']!r} is not one of {', '.join(_ROLES)}")
        if not isinstance(message["content"], str):
            raise ValueError(f"{where}[{i}].content: expected a string")
    return list(messages)


def render_chat(
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    *,
    add_generation_prompt: bool = True,
    **template_kwargs: Any,
) -> str:
    """The text the model sees for `messages`, ending with the assistant prompt when asked."""
    ensure_chat_template(tokenizer)
    # Qwen3-style templates open a thinking block unless told not to; the toolkit studies direct answers.
    template_kwargs.setdefault("enable_thinking", False)
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=add_generation_prompt, **template_kwargs
    )


def end_of_turn_marker(tokenizer: Any) -> str:
    """The text the chat template puts right after an assistant message's content (e.g. `<|im_end|>`)."""
    text = render_chat(
        tokenizer,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}],
        add_generation_prompt=False,
    )
    return text[text.rindex(_SENTINEL) + len(_SENTINEL) :].strip()
