"""Shared pieces of the subcommands: the user-error type and common options."""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["UserError", "add_command", "add_model_args", "load_model_or_exit"]


class UserError(Exception):
    """A mistake in the user's input: reported in one line, exit code 2, no traceback."""


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
    parser.add_argument("--model", required=True,
                        help="hub id, local folder in HF format, GGUF file, or packaged model (smollm2-135m-instruct)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: checkpoint's)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cpu)")


def load_model_or_exit(args: argparse.Namespace):
    """Load `--model`, turning the user's mistakes (bad path, unknown family) into UserError."""
    from interp.models import UnsupportedArchitectureError, load_model
    from interp.models.gguf import MissingPackageError

    try:
        return load_model(args.model, dtype=args.dtype, device=args.device)
    except (UnsupportedArchitectureError, MissingPackageError, FileNotFoundError, ValueError, OSError) as err:
        raise UserError(f"--model {args.model}: {err}") from err
