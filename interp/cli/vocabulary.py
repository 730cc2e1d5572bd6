"""One vocabulary for the `interp` command: what each flag that several subcommands share means, and
the old spellings kept working (with a note on stderr) until scripts move to the new ones.

A flag in `VOCABULARY` means the same thing, takes the same kind of value, in every subcommand that
has it (a test reads every subcommand's --help against this table). A subcommand's help may add a
detail after the meaning ("where the result is written: an HDF5 file").
"""

from __future__ import annotations

import sys
from typing import NamedTuple

__all__ = ["DEPRECATED", "VOCABULARY", "Term", "rewrite_deprecated"]


class Term(NamedTuple):
    meaning: str
    """what the flag means, in every subcommand that has it"""
    kind: type | None
    """the value's type (str, int or float); None for a switch that takes no value"""


LAYERS_GRAMMAR = "all, a layer (3; -1 is the last), a list (0,4,8), a range (2-5), a slice (-4:) or mixed (0,2-4,-1)"

VOCABULARY: dict[str, Term] = {
    # the model and where the result goes
    "--model": Term(
        "the model: a hub id, a local folder in HF format, a GGUF file, or a packaged model (smollm2-135m-instruct)",
        str,
    ),
    "--dtype": Term("the local model's weights dtype: float32, bfloat16 or float16 (default: the checkpoint's)", str),
    "--device": Term("the local model's device: cpu, cuda, cuda:1, ... (default: cpu)", str),
    "--out": Term("where the result is written", str),
    "--overwrite": Term("replace what is already there instead of refusing", None),
    "--root": Term("the repository checkout (default: this toolkit's)", str),
    "--json": Term("print the result as one JSON object on stdout, for scripts", None),
    "--dry-run": Term("check the inputs and print what would run; load no model, write nothing", None),
    "--no-progress": Term("no progress bars", None),
    # inputs
    "--data": Term('a chat JSONL file (`{"messages": [...]}` per line) or a bundled set\'s name', str),
    "--store": Term("an activation file in the documented HDF5 layout (from `interp cache`)", str),
    "--partial": Term("use the committed rows of a store whose `interp cache` run has not finished", None),
    "--layers": Term(f"which layers, in the layer grammar: {LAYERS_GRAMMAR}", str),
    "--truncate": Term(
        "cut inputs longer than the model's context to fit it, with a warning (default: refuse them)", None
    ),
    "--method": Term("which of the command's registered methods does the job", str),
    # steering
    "--steer": Term("a direction file (.safetensors) to add to the residual stream", str),
    "--vector": Term("a direction file to read", str),
    "--layer": Term("the block whose output the direction is added to (-1: the last)", int),
    "--alpha": Term("the raw multiple of the direction that is added", float),
    "--alpha-rel": Term("alpha relative to the layer: alpha_rel * mean |resid| over the prompts / |v|", float),
    "--adapter": Term("a LoRA adapter folder (peft) applied on top of --model", str),
    "--allow-other-model": Term("apply the direction even when its metadata names another model (warns)", None),
    # sampling and batching
    "--batch-size": Term("examples per batch", int),
    "--max-new-tokens": Term("the longest generated answer, in tokens", int),
    "--temperature": Term("sampling temperature (0: greedy)", float),
    "--seed": Term("the random seed", int),
    "--seeds": Term("seeds, comma-separated (0,1,2)", list),
    # servers
    "--api-base": Term("an OpenAI-compatible server (.../v1) that serves the model, used instead of loading it", str),
    "--api-steering": Term(
        "steering for a model on `interp serve` at --api-base, sent with every request: a JSON "
        'object with "steering" and/or "ablate" lists, e.g. '
        '\'{"steering": [{"direction": "d", "layer": 6, "alpha": 4}]}\'',
        str,
    ),
    "--api-key-env": Term("the environment variable holding the server's API key (read, never written)", str),
    "--max-retries": Term("retries of a failed API request before giving up", int),
    "--judge-model": Term("the judge: a model name on --judge-api-base", str),
    "--judge-api-base": Term("the judge's OpenAI-compatible server (.../v1)", str),
    "--judge-api-key-env": Term("the environment variable holding --judge-api-base's key", str),
}
"""Every flag two or more subcommands share, with what it means in all of them."""

DEPRECATED: dict[str, dict[str, str]] = {
    "cache": {"--max-tokens": "--max-tokens-per-batch"},
    "eval": {
        "--max-tokens": "--max-new-tokens",
        "--model-api-base": "--api-base",
        "--model-api-steering": "--api-steering",
    },
    "steer": {"--vector": "--steer", "--positions": "--steer-positions"},
    "direction": {"--layer": "--layers"},
    "convert-direction": {"--layer": "--layers"},
    "audit": {
        "--target": "--model",
        "--target-api-base": "--api-base",
        "--target-api-key-env": "--api-key-env",
        "--target-api-steering": "--api-steering",
        "--auditor": "--auditor-model",
        "--judge": "--judge-model",
        "--seeds": "--scenarios",
        "--epochs": "--repeats",
        "--max-tokens": "--max-new-tokens",
    },
}
"""subcommand -> {old spelling: the flag it now is}: each old spelling meant something else elsewhere."""


def rewrite_deprecated(argv: list[str], stderr=None) -> list[str]:
    """`argv` with the old spellings of its subcommand's flags (`--old V` and `--old=V`) replaced by the
    current ones, a note on stderr for each."""
    command = next((a for a in argv if not a.startswith("-")), None)
    renamed = DEPRECATED.get(command or "", {})
    out: list[str] = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if flag in renamed and "--" not in out:  # after a bare `--` every argument is a value
            print(
                f"interp {command}: note: {flag} is now {renamed[flag]} (the old spelling still works, for now)",
                file=stderr or sys.stderr,
            )
            arg = renamed[flag] + eq + value
        out.append(arg)
    return out
