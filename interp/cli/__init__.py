"""The `interp` command. Each subcommand is a module in this package with `register(subparsers)`
(`convert-direction` is `convert_direction.py`).

Modules import torch and friends inside their `run` functions, so `interp --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from interp.cli.common import UserError

__all__ = ["main", "build_parser", "UserError"]

# Order is the order `interp --help` lists them in.
SUBCOMMANDS: tuple[str, ...] = ("info", "cache", "eval", "finetune", "direction", "probe", "convert-direction", "steer",
                                 "replicate", "audit", "serve", "publish", "docs")


def build_parser() -> argparse.ArgumentParser:
    from interp.models.version import __version__

    parser = argparse.ArgumentParser(
        prog="interp",
        description="Read, steer and link the residual stream of Hugging Face causal LMs.",
        epilog="Run `interp COMMAND --help` for each command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"interp {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"interp.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the command as typed, for the records of what made a result (`interp replicate` keeps it in the run folder)
    args.command_line = shlex.join(["interp", *(sys.argv[1:] if argv is None else argv)])
    if args.command is None:
        parser.print_help()
        return 2
    from interp.models.lock import OutputLockedError

    try:
        return int(args.func(args) or 0)
    except (UserError, OutputLockedError) as err:
        print(f"interp {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interp {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
