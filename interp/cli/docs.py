"""`interp docs render`: the results pages, the benchmarks page and the README's tables, from result files."""

from __future__ import annotations

from pathlib import Path

from interp.cli.common import UserError, add_command, add_shared


def project_root(root: str | None) -> Path:
    """The repository checkout: `root` when given, else the one this toolkit runs from."""
    path = Path(root) if root else Path(__file__).resolve().parents[2]
    if not (path / "docs" / "results").is_dir():
        raise UserError(f"{path} holds no docs/results/: run from a checkout of the repository, or pass --root")
    return path


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "docs",
        "render the pages whose numbers come from result files (docs/results/, docs/guides/benchmarks.md, the "
        "README's headline tables, results/*/RUN.md) from results/ and benchmarks/results/",
        "interp docs render           # rewrite what changed\n"
        "interp docs render --check   # exit 1, naming each file, when a page differs from its render",
        run,
    )
    parser.add_argument("action", choices=["render"], help="render (the one action)")
    parser.add_argument(
        "--check", action="store_true", help="render in memory and compare; change nothing (what the test suite runs)"
    )
    add_shared(parser, "--root", default=None)


def run(args) -> int:
    from experiments.consciousness_cluster.publish.pages import RenderError, check, write
    from experiments.consciousness_cluster.schema.stages import SchemaError

    root = project_root(args.root)
    try:
        if args.check:
            problems = check(root)
            for problem in problems:
                print(problem)
            print(
                f"{len(problems)} rendered file(s) differ from their render"
                if problems
                else "every rendered page matches its result files"
            )
            return 1 if problems else 0
        changed = write(root)
    except (RenderError, SchemaError) as err:
        raise UserError(str(err)) from None
    for path in changed:
        print(f"rendered {path.relative_to(root)}")
    print(f"{len(changed)} file(s) changed" if changed else "every rendered page was up to date")
    return 0
