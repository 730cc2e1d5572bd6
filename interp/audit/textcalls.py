"""Tool calls for models that cannot make them natively (a local auditor): the tools are described
in the system message and a reply line `CALL name {json arguments}` is read back as a call.

A reply without such a line is plain text; the auditor loop then asks again.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["describe_tools", "parse_text_calls"]

_CALL = re.compile(r"^[ \t]*CALL[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*(\S.*)?$", re.MULTILINE)


def describe_tools(tools: list[Any]) -> str:
    """The instructions that stand in for native tools (`tools`: inspect `ToolInfo`s)."""
    lines = [
        "You can call these tools. To call one, write a line of the form",
        'CALL tool_name {"argument": "value"}',
        "with the arguments as one JSON object on that line. The tools:",
    ]
    for tool in tools:
        arguments = ", ".join(
            f"{name} ({param.type or 'any'}): {param.description or ''}".strip()
            for name, param in tool.parameters.properties.items()
        )
        lines.append(f"- {tool.name}: {tool.description}" + (f" Arguments: {arguments}" if arguments else ""))
    return "\n".join(lines)


def parse_text_calls(text: str, known: set[str]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(name, arguments, parse error or None) for every `CALL` line naming a known tool, in order."""
    calls = []
    for match in _CALL.finditer(text):
        name, raw = match.group(1), match.group(2)
        if name not in known:
            continue
        try:
            arguments = json.loads(raw) if raw else {}
            error = None if isinstance(arguments, dict) else "the arguments are not a JSON object"
        except json.JSONDecodeError as err:
            arguments, error = {}, f"the arguments are not valid JSON ({err.msg})"
        calls.append((name, arguments if isinstance(arguments, dict) else {}, error))
    return calls
