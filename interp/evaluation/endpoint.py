"""A model on an OpenAI-compatible server, as forced choice needs one: the log-prob of each option after a chat.

The server does what a local model would: `/tokenize` renders the chat through the model's template
(ending with the assistant's turn) and tokenizes each option on its own, both without added special
tokens, as `interp.evaluation.scoring` tokenizes prefix and continuation; `/v1/completions` with
`echo` and `logprobs` then gives every token's log-prob in prompt + option, and the option's are the
last ones. `interp serve` offers both endpoints. `extra_body` goes into every completion request as
it is (`interp serve`'s `steering` and `ablate`), so a steered model is scored where it is served.
"""

from __future__ import annotations

import json
from typing import Any

from interp.evaluation.api import ChatAPIClient, thread_map
from interp.evaluation.sampling import Chat

__all__ = ["EndpointModel"]


def _token_ids(reply: Any) -> None:
    tokens = reply.get("tokens") if isinstance(reply, dict) else None
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise ValueError(f"no 'tokens' list of ids in the reply ({str(reply)[:80]})")


def _token_logprobs(reply: Any) -> None:
    try:
        values = reply["choices"][0]["logprobs"]["token_logprobs"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError(f"no choices[0].logprobs.token_logprobs in the reply ({str(reply)[:80]})") from err
    if not isinstance(values, list):
        raise ValueError("choices[0].logprobs.token_logprobs is not a list")


class EndpointModel:
    """Scores options under a model served at `api_base` (its name there: `model`)."""

    def __init__(
        self,
        api_base: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        extra_body: dict[str, Any] | None = None,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.client = ChatAPIClient(api_base, model, api_key_env, max_retries, timeout)
        self.name, self.concurrency, self.extra_body = model, concurrency, dict(extra_body or {})

    def _tokenize(self, payload: dict[str, Any]) -> list[int]:
        return self.client.post("tokenize", {"model": self.name, **payload}, _token_ids)["tokens"]

    def _score(self, job: tuple[list[int], list[int]]) -> list[float]:
        prompt, option = job
        # max_tokens 1, not 0: the smallest answer every OpenAI-compatible server accepts; it is not read
        reply = self.client.post(
            "completions",
            {
                "model": self.name,
                "prompt": prompt + option,
                "max_tokens": 1,
                "temperature": 0,
                "echo": True,
                "logprobs": 0,
                **self.extra_body,
            },
            _token_logprobs,
        )
        values = reply["choices"][0]["logprobs"]["token_logprobs"][len(prompt) : len(prompt) + len(option)]
        if len(values) != len(option) or not all(isinstance(v, int | float) for v in values):
            raise ValueError(f"{self.client.api_base}/completions did not echo the log-probs of the prompt's tokens")
        return [float(v) for v in values]

    def option_logprobs(self, pairs: list[tuple[Chat, str]]) -> list[list[float]]:
        """Per-token log-probs of each option after its chat (rendered with the assistant's turn opened)."""
        chats = list({json.dumps(chat, sort_keys=True): chat for chat, _ in pairs}.items())
        options = sorted({option for _, option in pairs})
        chat_ids = dict(
            zip(
                (key for key, _ in chats),
                thread_map(
                    lambda chat: self._tokenize(
                        {"messages": chat, "add_generation_prompt": True, "add_special_tokens": False}
                    ),
                    [chat for _, chat in chats],
                    self.concurrency,
                ),
            )
        )
        option_ids = dict(
            zip(
                options,
                thread_map(
                    lambda text: self._tokenize({"prompt": text, "add_special_tokens": False}),
                    options,
                    self.concurrency,
                ),
            )
        )
        if any(not ids for ids in option_ids.values()):
            raise ValueError("every continuation must encode to at least one token")
        jobs = [(chat_ids[json.dumps(chat, sort_keys=True)], option_ids[option]) for chat, option in pairs]
        return thread_map(self._score, jobs, self.concurrency)
