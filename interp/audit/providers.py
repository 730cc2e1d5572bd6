"""Two inspect model providers: `interp/MODEL` (a toolkit sampler: a local model with its steering hook
or adapter, or an OpenAI-compatible server) and `interp-openai/MODEL` (an OpenAI-compatible chat
endpoint with native tool calls, on the toolkit's standard-library client).

Both take plain data as model args, which inspect records in the log; API keys are read from the
environment variable named by `api_key_env` at request time and never reach an argument or a log.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from typing import Any

import anyio
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
    StopReason,
    modelapi,
)
from inspect_ai.tool import ToolCall, ToolChoice, ToolInfo

from interp.audit.target import TargetSpec, build_target
from interp.audit.textcalls import describe_tools, parse_text_calls

__all__ = ["ChatEndpointAPI", "SamplerAPI", "openai_messages"]

_FIELDS = {f.name for f in dataclasses.fields(TargetSpec)} - {"model"}


def _no_key(api_key: str | None) -> None:
    if api_key is not None:
        raise ValueError(
            "pass API keys through the environment (name the variable with api_key_env), "
            "never as an argument: arguments are written to the log"
        )


@modelapi(name="interp")
class SamplerAPI(ModelAPI):
    """A toolkit sampler as an inspect model. One generation at a time: steering hooks live on the
    shared model, and a local model on CPU gains nothing from overlapping calls."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **model_args: Any,
    ) -> None:
        _no_key(api_key)
        unknown = set(model_args) - _FIELDS
        if unknown:
            raise ValueError(
                f"unknown target option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_FIELDS))}"
            )
        super().__init__(model_name, base_url, None, [], GenerateConfig() if config is None else config)
        api_base: dict[str, Any] = {"api_base": base_url} if base_url else {}
        self.spec = TargetSpec(model=model_name, **api_base, **model_args)
        self.sampler, self.lm = build_target(self.spec)
        self._lock = threading.Lock()

    def max_connections(self) -> int:
        return 1

    async def generate(
        self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice, config: GenerateConfig
    ) -> tuple[ModelOutput, ModelCall]:
        chat = [
            {"role": "user", "content": f"Tool result: {m.text}"}
            if m.role == "tool"
            else {"role": m.role, "content": m.text}
            for m in input
        ]
        if tools:  # a local auditor: tools described in text, calls read back from the reply
            head = "\n\n".join([m["content"] for m in chat if m["role"] == "system"] + [describe_tools(tools)])
            chat = [{"role": "system", "content": head}, *(m for m in chat if m["role"] != "system")]
        params = {
            "temperature": 1.0 if config.temperature is None else config.temperature,
            "top_p": 1.0 if config.top_p is None else config.top_p,
            "max_tokens": config.max_tokens or 1000,
            "seed": config.seed or 0,
        }
        text = await anyio.to_thread.run_sync(self._sample, chat, params)
        calls = (
            [
                ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", function=name, arguments=arguments, parse_error=error)
                for name, arguments, error in parse_text_calls(text, {t.name for t in tools})
            ]
            if tools
            else []
        )
        message = ChatMessageAssistant(content=text, tool_calls=calls or None, model=self.model_name, source="generate")
        usage = None
        if self.lm is not None:
            count = self._count_tokens
            usage = ModelUsage(input_tokens=count(self.lm.render_chat(chat)), output_tokens=count(text))
            usage.total_tokens = usage.input_tokens + usage.output_tokens
        output = ModelOutput(
            model=self.model_name,
            usage=usage,
            choices=[ChatCompletionChoice(message=message, stop_reason="tool_calls" if calls else "stop")],
        )
        return output, ModelCall.create({"messages": chat, **params}, {"text": text})

    def _count_tokens(self, text: str) -> int:
        return len(self.lm.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _sample(self, chat: list[dict[str, str]], params: dict[str, Any]) -> str:
        if self.lm is not None and self.lm.context_length is not None:
            used = self._count_tokens(self.lm.render_chat(chat))
            if used >= self.lm.context_length:
                raise ValueError(
                    f"the conversation ({used} tokens) no longer fits {self.spec.model}'s context of "
                    f"{self.lm.context_length} tokens; lower --max-turns or the auditor's message length"
                )
        with self._lock:
            return self.sampler.sample([chat], n=1, **params)[0][0]


def openai_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """inspect chat messages in the OpenAI chat-completions wire format (text content)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.text or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.function, "arguments": json.dumps(c.arguments)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.text})
    return out


def _tool_choice(choice: ToolChoice) -> Any:
    return choice if isinstance(choice, str) else {"type": "function", "function": {"name": choice.name}}


def _tool_calls(raw: list[dict[str, Any]] | None) -> list[ToolCall]:
    calls = []
    for call in raw or []:
        function = call.get("function") or {}
        text, error = function.get("arguments") or "{}", None
        try:
            arguments = json.loads(text) if isinstance(text, str) else dict(text)
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            arguments, error = {}, f"arguments are not valid JSON: {err}"
        calls.append(
            ToolCall(
                id=call.get("id") or f"call_{uuid.uuid4().hex[:12]}",
                function=function.get("name", ""),
                arguments=arguments if isinstance(arguments, dict) else {},
                parse_error=error,
            )
        )
    return calls


_STOP: dict[str, StopReason] = {
    "stop": "stop",
    "length": "max_tokens",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


@modelapi(name="interp-openai")
class ChatEndpointAPI(ModelAPI):
    """Any OpenAI-compatible chat endpoint, tool calls included; retries as `ChatAPIClient` does."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_retries: int = 5,
        timeout: float = 120.0,
        backoff_base: float = 1.0,
        concurrency: int = 8,
    ) -> None:
        _no_key(api_key)
        if not base_url:
            raise ValueError(f"model {model_name}: give the server's base URL (e.g. https://api.openai.com/v1)")
        super().__init__(model_name, base_url, None, [], GenerateConfig() if config is None else config)
        from interp.evaluation.api import ChatAPIClient

        self.client = ChatAPIClient(base_url, model_name, api_key_env, max_retries, timeout, backoff_base)
        self.concurrency = concurrency

    def max_connections(self) -> int:
        return self.concurrency

    async def generate(
        self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice, config: GenerateConfig
    ) -> tuple[ModelOutput, ModelCall]:
        params: dict[str, Any] = {
            k: v
            for k, v in (
                ("temperature", config.temperature),
                ("top_p", config.top_p),
                ("max_tokens", config.max_tokens),
                ("seed", config.seed),
            )
            if v is not None
        }
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters.model_dump(exclude_none=True),
                    },
                }
                for t in tools
            ]
            params["tool_choice"] = _tool_choice(tool_choice)
        messages = openai_messages(input)
        reply = await anyio.to_thread.run_sync(lambda: self.client.reply(messages, **params))
        choice = reply["choices"][0]
        calls = _tool_calls(choice["message"].get("tool_calls"))
        message = ChatMessageAssistant(
            content=choice["message"].get("content") or "",
            tool_calls=calls or None,
            model=self.model_name,
            source="generate",
        )
        usage = reply.get("usage") or {}
        output = ModelOutput(
            model=self.model_name,
            choices=[
                ChatCompletionChoice(message=message, stop_reason=_STOP.get(choice.get("finish_reason"), "unknown"))
            ],
            usage=ModelUsage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                total_tokens=int(usage.get("total_tokens") or 0),
            )
            if usage
            else None,
        )
        return output, ModelCall.create({"model": self.model_name, "messages": messages, **params}, reply)
