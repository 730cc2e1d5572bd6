"""Shared pieces of the subcommands: the user-error type and common options."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Iterable

__all__ = ["LAYERS_HELP", "RegistryChoices", "UserError", "add_command", "add_model_args", "layers_or_exit",
           "literal_choices", "load_model_or_exit"]

LAYERS_HELP = "all, a layer (3; -1 is the last), a list (0,4,8), a range (2-5), a slice (-4:) or mixed (0,2-4,-1)"
"""The layer grammar of `activations.layers`, for --help (kept here so building the parser imports no torch)."""


class UserError(Exception):
    """A mistake in the user's input: reported in one line, exit code 2, no traceback."""


class RegistryChoices:
    """argparse `choices` read from a registry when they are needed (help, parsing), so a name
    registered after the parser was built is listed and accepted, and building it imports nothing.
    Give the argument a `metavar`: argparse would otherwise list the choices while building."""

    def __init__(self, names: Callable[[], Iterable[str]]):
        self._names = names

    def __iter__(self):
        return iter(list(self._names()))

    def __contains__(self, value) -> bool:
        return value in list(self._names())


def literal_choices(config: Callable[[], type], name: str) -> RegistryChoices:
    """The values a config dataclass's `Literal` field allows (`config` returns the class, imported late)."""
    def names():
        from typing import get_type_hints

        from interp.models.fields import literal_values

        return [value for value in literal_values(get_type_hints(config())[name]) if value is not None]

    return RegistryChoices(names)


def layers_or_exit(spec, flag: str = "--layers", *, n_layers: int | None = None,
                   stored: list[int] | None = None) -> list[int] | None:
    """`spec` read by the one layer grammar (`activations.layers`) and resolved against a model's
    `n_layers` or a file's `stored` layers (its syntax alone when neither is given); a mistake is a
    UserError naming the flag."""
    from activations.layers import LayerSpecError, parse_layer_spec, parse_layers, select_layers

    try:
        parsed = parse_layer_spec(spec)
        if n_layers is not None:
            return parse_layers(parsed, n_layers)
        return select_layers(parsed, stored) if stored is not None else None
    except LayerSpecError as err:
        raise UserError(f"{flag} {err}") from None


def add_command(subparsers, name: str, help: str, example: str, func) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with a runnable example."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog="example:\n" + textwrap.indent(example.strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="hub id or local folder in HF format")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: checkpoint's)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cpu)")


def load_model_or_exit(args: argparse.Namespace):
    """Load `--model`, turning the user's mistakes (bad path, unknown family) into UserError."""
    from interp.models import UnsupportedArchitectureError, load_model

    try:
        return load_model(args.model, dtype=args.dtype, device=args.device)
    except (UnsupportedArchitectureError, FileNotFoundError, ValueError, OSError) as err:
        raise UserError(f"--model {args.model}: {err}") from err
