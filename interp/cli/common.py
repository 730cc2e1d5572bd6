"""Shared pieces of the subcommands: the user-error type and common options."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import textwrap
from pathlib import Path

__all__ = ["UserError", "add_command", "add_model_args", "check_writable", "load_model_or_exit", "positive_int"]


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
        raise UserError(f"{flag} {path}: cannot write to {where} ({err.strerror or err}); choose another "
                        f"{flag} or fix that folder's permissions") from None


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
