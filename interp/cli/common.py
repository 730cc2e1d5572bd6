"""Shared pieces of the subcommands: the user-error type and common options."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from interp.cli.vocabulary import LAYERS_GRAMMAR, VOCABULARY

__all__ = [
    "LAYERS_HELP",
    "HelpFormatter",
    "RegistryChoices",
    "Steering",
    "UserError",
    "add_command",
    "add_model_args",
    "add_shared",
    "add_steering_args",
    "check_alphas",
    "check_writable",
    "layers_or_exit",
    "literal_choices",
    "load_model_or_exit",
    "positive_int",
    "steering_body_or_exit",
    "steering_or_exit",
]

LAYERS_HELP = LAYERS_GRAMMAR
"""The layer grammar of `activations.layers`, for --help (kept in the vocabulary so building the parser imports
no torch)."""


class UserError(Exception):
    """A mistake in the user's input: reported in one line, exit code 2, no traceback."""


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer; give 1 or more")
    return value


def check_writable(flag: str, path: str | Path, folder: bool = False) -> None:
    """Fail early, before a model loads, when `path` (a folder, or a file's folder) cannot be written.

    Nothing is created: a scratch file is written and removed in the nearest folder that exists,
    which also catches read-only filesystems that permission bits do not show.
    """
    path = Path(path).expanduser()
    where = (path if folder else path.parent).absolute()
    existing = where
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, f"{existing} is a file, not a folder")
        handle, scratch = tempfile.mkstemp(prefix=".interp-write-check-", dir=existing)
        os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(scratch)
    except OSError as err:
        raise UserError(
            f"{flag} {path}: cannot write to {where} ({err.strerror or err}); choose another "
            f"{flag} or fix that folder's permissions"
        ) from None


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

        values = literal_values(get_type_hints(config())[name])
        if values is None:
            raise TypeError(f"{config().__name__}.{name} is not a Literal field")
        return [value for value in values if value is not None]

    return RegistryChoices(names)


def layers_or_exit(
    spec, flag: str = "--layers", *, n_layers: int | None = None, stored: list[int] | None = None
) -> list[int] | None:
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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The example epilog as written, and every option's default shown (unless its help says it already)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        unset = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        shown = not unset and not action.required
        if shown and action.option_strings and "default" not in help and "%(default)" not in help:
            help += " (default: %(default)s)"
        return help


Parser = TypeVar("Parser", bound=argparse.ArgumentParser)


def add_command(subparsers: argparse._SubParsersAction[Parser], name: str, help: str, example: str, func) -> Parser:
    """A subcommand whose --help ends with a runnable example; every one takes --json."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog="example:\n" + textwrap.indent(example.strip(), "  "),
        formatter_class=HelpFormatter,
    )
    parser.set_defaults(func=func)
    add_shared(parser, "--json")
    return parser


def add_shared(parser, flag: str, detail: str = "", *names: str, **kwargs: Any) -> argparse.Action:
    """`flag` as the vocabulary defines it (its meaning, then `detail`; its kind of value); `names` are more
    spellings of it, `kwargs` go to argparse (required, default, dest, choices, ...)."""
    term = VOCABULARY[flag]
    help = term.meaning + (f"; {detail}" if detail else "")
    if term.kind is None:
        kwargs.setdefault("action", "store_true")
    else:
        kwargs.setdefault("type", term.kind)
    return parser.add_argument(flag, *names, help=help, **kwargs)


def add_model_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--model, --dtype, --device. `required=False` leaves the check to the command (e.g. not for a dry run)."""
    add_shared(parser, "--model", required=required)
    add_shared(parser, "--dtype")
    add_shared(parser, "--device")


def load_model_or_exit(args: argparse.Namespace):
    """Load `--model`, turning the user's mistakes (bad path, unknown family) into UserError."""
    from interp.models import UnsupportedArchitectureError, load_model
    from interp.models.gguf import MissingPackageError

    try:
        return load_model(args.model, dtype=args.dtype, device=args.device)
    except (UnsupportedArchitectureError, MissingPackageError, FileNotFoundError, ValueError, OSError) as err:
        raise UserError(f"--model {args.model}: {err}") from err


def add_steering_args(group, flag: str, *, required: bool, several: str = "") -> None:
    """The options that go with a direction file given as `flag`: --layer (`required` or not), --alpha or
    --alpha-rel (alpha 1 when neither is given) and --allow-other-model. With `several` (what several values
    do, for --help), --alpha and --alpha-rel take one or more values (parsed as a list)."""
    add_shared(group, "--layer", f"{flag}'s", required=required, default=None, metavar="L")
    strength = group.add_mutually_exclusive_group()
    more = {"nargs": "+", "metavar": "A"} if several else {"metavar": "A"}
    add_shared(strength, "--alpha", "default 1" + (f"; several: {several}" if several else ""), default=None, **more)
    add_shared(strength, "--alpha-rel", f"several: {several}" if several else "", default=None, **more)
    add_shared(group, "--allow-other-model")


def check_alphas(args: argparse.Namespace) -> None:
    """--alpha and --alpha-rel, when given, are finite numbers (each of them, when several)."""
    for flag in ("alpha", "alpha_rel"):
        value = getattr(args, flag, None)
        for one in value if isinstance(value, list) else [value]:
            if one is not None and not math.isfinite(one):
                raise UserError(f"--{flag.replace('_', '-')} {one}: give a finite number")


class Steering(NamedTuple):
    layer: int
    """the block whose output is steered (negative --layer resolved)"""
    vector: Any
    """[d_model] float32 tensor: the direction file's row for `layer`, checked against the model"""
    alpha: float
    """the raw alpha (--alpha, or --alpha-rel converted over the prompts)"""


def steering_or_exit(args: argparse.Namespace, flag: str, path, lm, prompts: Callable[[], list[str]]) -> Steering:
    """The layer, vector and raw alpha that direction file `path` (given as `flag`), --layer, --alpha
    or --alpha-rel and --allow-other-model ask for (`prompts` gives the texts --alpha-rel is measured
    over); each problem a UserError; a direction made on another model, when allowed, a one-line warning."""
    from interp.steering import relative_alpha

    check_alphas(args)
    try:
        layer = lm.resolve_layer(args.layer)
    except ValueError as err:
        raise UserError(f"--layer: {err}") from None
    vector = _direction_row(flag, path, lm, layer, args.allow_other_model)
    if args.alpha_rel is None:
        return Steering(layer, vector, 1.0 if args.alpha is None else args.alpha)
    try:
        return Steering(layer, vector, relative_alpha(lm, vector, layer, prompts(), args.alpha_rel))
    except ValueError as err:
        raise UserError(f"--alpha-rel: {err}") from None


def _direction_row(flag: str, path, lm, layer: int, allow_other_model: bool):
    """The row of direction file `path` for `layer`, checked against `lm` (`Direction.for_model`)."""
    import warnings

    from interp.models import DirectionError, OtherModelError, OtherModelWarning, load_direction

    try:
        direction = load_direction(path)
    except DirectionError as err:
        raise UserError(f"{flag} {err}") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OtherModelWarning)
            row = direction.for_model(lm, layer, allow_other_model=allow_other_model)
    except OtherModelError as err:
        raise UserError(f"{flag} {path}: {err.what}; pass --allow-other-model to apply it anyway") from None
    except DirectionError as err:
        raise UserError(f"{flag} {path}: {err}") from None
    for warning in caught:
        print(f"warning: {flag} {path}: {warning.message}", file=sys.stderr)
    return row


def steering_body_or_exit(flag: str, text: str) -> dict:
    """A served model's steering (`interp serve`'s extra request fields) given as JSON on `flag`: an object
    with "steering" and/or "ablate" lists. The server checks the entries; this checks the shape."""
    import json

    try:
        body = json.loads(text)
    except ValueError as err:
        raise UserError(
            f'{flag}: not valid JSON ({err}); e.g. \'{{"steering": [{{"direction": "d", "layer": 6, "alpha": 4}}]}}\''
        ) from None
    if not isinstance(body, dict) or not body or set(body) - {"steering", "ablate"}:
        raise UserError(f'{flag}: expected a JSON object with "steering" and/or "ablate" lists')
    for key, value in body.items():
        if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
            raise UserError(f'{flag}: "{key}" must be a list of objects')
    return body
