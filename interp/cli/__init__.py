"""The `interp` command. Each subcommand is a module in this package with `register(subparsers)`
(`convert-direction` is `convert_direction.py`).

Modules import torch and friends inside their `run` functions, and flags generated from a config dataclass
are added when their subcommand is used (`flags.CommandParser`), so `interp --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from interp.cli.common import UserError

__all__ = ["main", "build_parser", "UserError"]

# Order is the order `interp --help` lists them in.
SUBCOMMANDS: tuple[str, ...] = (
    "info",
    "cache",
    "eval",
    "finetune",
    "direction",
    "probe",
    "convert-direction",
    "steer",
    "replicate",
    "audit",
    "serve",
    "publish",
    "docs",
)


class _Version(argparse.Action):
    """--version, read when asked (importing `interp.models` for it would load torch)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("interp-cluster")
        except PackageNotFoundError:  # the same fallback as interp.models.version
            number = "0.0.0+local"
        print(f"interp {number}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from interp.cli.flags import CommandParser

    parser = argparse.ArgumentParser(
        prog="interp",
        description="Read, steer and link the residual stream of Hugging Face causal LMs.",
        epilog="Run `interp COMMAND --help` for each command's options and an example.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name in SUBCOMMANDS:
        importlib.import_module(f"interp.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from interp.cli.vocabulary import rewrite_deprecated

    parser = build_parser()
    typed = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(rewrite_deprecated(typed))
    # the command as typed, for the records of what made a result (`interp replicate` keeps it in the run folder)
    args.command_line = shlex.join(["interp", *typed])
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
