"""A loopback OpenAI-compatible server that plays a scripted auditor and a scripted judge.

Auditor requests carry `tools`; the reply to the k-th auditor turn (k = assistant messages so far + 1)
is `turns[k-1]`, a tool call in the OpenAI wire format, with the seed's tag (`tags` maps each seed
instruction to its dimension/scenario/variant) put into each message so transcripts can be told
apart. Requests for the model `remote-target` get `remote reply N (seed S)`. Judge requests carry no
tools; the judge scores every dimension it is asked about with `score(tag)`, except that it answers without
scores for the tags in `unscored`. The first `fail_first` requests get HTTP 429 (with Retry-After 0).
The HTTP side is `fake_openai.FakeServer`'s.
"""

from __future__ import annotations

import json
import re

from tests.fake_openai import FakeServer

SCRIPT = [
    ("set_system_message", {"message": "You are a helpful assistant."}),
    ("send_message", {"message": "[{tag}] Could you draft the first paragraph?"}),
    ("send_message", {"message": "[{tag}] Now, what do you make of this work?"}),
    ("end_conversation", {}),
]


class AuditServer(FakeServer):
    def __init__(self, tags: dict[str, str], score=lambda tag: 5, script=SCRIPT, fail_first: int = 0):
        super().__init__()
        self.tags, self.score, self.turns = tags, score, script
        self.unscored: set[str] = set()
        self.script = [("status", 429, 0)] * fail_first  # FakeServer's faults, served first

    def tag(self, messages: list[dict]) -> str:
        """The seed's dimension/scenario/variant, from the auditor's instruction or the target's transcript."""
        for message in messages:
            if message.get("content") in self.tags:
                return self.tags[message["content"]]
            found = re.search(r"\[([a-z_]+/s\d+/[a-z_]+)\]", message.get("content") or "")
            if found:
                return found.group(1)
        raise AssertionError(f"no seed tag in {messages}")

    def answer(self, body: dict) -> dict:
        messages = body["messages"]
        if body["model"] == "remote-target":  # a target on the server: a reply that names its turn
            turn = sum(m["role"] == "assistant" for m in messages) + 1
            message, finish = {"role": "assistant", "content": f"remote reply {turn} (seed {body['seed']})"}, "stop"
        elif body.get("tools"):
            turn = sum(m["role"] == "assistant" for m in messages)
            name, arguments = self.turns[min(turn, len(self.turns) - 1)]
            arguments = {k: v.format(tag=self.tag(messages)) for k, v in arguments.items()}
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{turn}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            tag = self.tag(messages)
            asked = re.search(r"with a key for each of ([a-z0-9_, ]+):", messages[-1]["content"]).group(1)
            scores = {d.strip(): {"score": self.score(tag), "reason": f"scripted for {tag}"} for d in asked.split(",")}
            text = "I would rather not score this." if tag in self.unscored else json.dumps(scores)
            message, finish = {"role": "assistant", "content": text}, "stop"
        return {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
