"""`interp publish`: a finished run's small files into results/NAME/, with RUN.md (how it was made)."""

from __future__ import annotations

from interp.cli.common import UserError, add_command, add_shared


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "publish",
        "copy a finished run's small files (results.json, report, seed and check tables, figures, preset) into "
        "results/NAME/ with RUN.md, the record of how it ran; models and activation stores stay behind",
        "interp publish runs/organism --name organism-seed0\n"
        "interp publish runs/smollm2-seeds --name smollm2-seeds --page smollm2-135m\n"
        "interp docs render   # then render the results pages and the README's tables from results/",
        run,
    )
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="a finished replication (results.json), seed trial (seeds.json) or direction checks (checks.json) folder",
    )
    parser.add_argument("--name", required=True, help="the folder under results/, e.g. organism-seed0")
    parser.add_argument(
        "--page",
        default=None,
        help="the results page it belongs to, docs/results/PAGE.md (default: the run's preset name)",
    )
    parser.add_argument(
        "--max-kb", type=float, default=None, help="refuse any file larger than this many KB (default 500)"
    )
    add_shared(parser, "--overwrite", "results/NAME")
    add_shared(parser, "--root", default=None)


def run(args) -> int:
    from experiments.consciousness_cluster.publish.folder import MAX_KB, PublishError, publish
    from experiments.consciousness_cluster.schema.stages import SchemaError
    from interp.cli.docs import project_root

    root = project_root(args.root)
    try:
        record = publish(
            args.run_dir,
            root / "results",
            args.name,
            page=args.page,
            overwrite=args.overwrite,
            max_kb=MAX_KB if args.max_kb is None else args.max_kb,
        )
    except (PublishError, SchemaError) as err:  # SchemaError: an invocation record edited by hand
        raise UserError(str(err)) from None
    print(
        f"published {record.kind} {args.run_dir} as results/{record.name}/ ({len(record.files)} files, "
        f"page {record.page}); next: interp docs render"
    )
    return 0
