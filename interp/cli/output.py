"""How every subcommand ends: its result and where it went, in one style; with --json, one JSON object.

    <table, when the result is one>
    cache: 120 rows of 40 examples at layers 10, 11 (5120 tokens in 3.2 s)
      -> runs/acts.h5

With --json, stdout holds only `{"command": ..., "result": ..., "outputs": [...], <the numbers>}`.
Notes and warnings go to stderr either way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["report"]


def report(
    args,
    result: str,
    outputs: Sequence[str | Path] = (),
    data: Mapping[str, Any] | None = None,
    table: str | None = None,
) -> int:
    """Print the command's `result` (one line) and its `outputs` (files or folders), after `table`;
    with --json the same as one JSON object with `data` merged in. Returns 0, the exit code."""
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "command": args.command,
                    "result": result,
                    "outputs": [str(p) for p in outputs],
                    **_plain(dict(data or {})),
                },
                allow_nan=False,
            )
        )
        return 0
    if table:
        print(table)
    print(f"{args.command}: {result}")
    for path in outputs:
        print(f"  -> {path}")
    return 0


def _plain(value: Any) -> Any:
    """`value` with paths as text and non-finite floats as null (JSON has no nan)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
