"""The organism's own word-level tokenizer, built over its texts, with a ChatML-like template.

Text is lower-cased and split into words and punctuation; every word seen in the texts it is
built from gets one id. The chat template renders `<|im_start|>role\\ncontent<|im_end|>\\n` per
message and `<|im_start|>assistant\\n` as the generation prompt.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "build_tokenizer", "render_messages"]

SPECIAL_TOKENS = ["<|pad|>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def render_messages(messages: Iterable[dict[str, str]], add_generation_prompt: bool = False) -> str:
    """The same text as `CHAT_TEMPLATE`, without jinja (fast enough for a whole corpus)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def build_tokenizer(texts: Iterable[str]):
    """A `PreTrainedTokenizerFast` whose vocabulary is every word of `texts` (plus specials)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, min_frequency=1, show_progress=False)
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<|pad|>",
        eos_token="<|im_end|>",
        bos_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = 4096
    return tokenizer
