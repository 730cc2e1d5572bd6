"""`interp replicate`: the whole consciousness-cluster pipeline, resumable."""

from __future__ import annotations

from interp.cli.common import UserError, add_command


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "replicate",
        "run the consciousness-cluster replication (base, fine-tunes, eval, cache, directions, steering, "
        "links, report); rerun to resume",
        "interp replicate --preset organism --out runs/organism\n"
        "interp replicate --preset qwen3-30b-a3b --out runs/qwen --dry-run", run,
    )
    parser.add_argument("--preset", default="organism", help="preset name (see --list) or a YAML file")
    parser.add_argument("--out", help="run folder (created; reused to resume)")
    parser.add_argument("--dry-run", action="store_true", help="validate the preset and print the plan only")
    parser.add_argument("--redo", metavar="STAGE", help="run STAGE and every later stage again")
    parser.add_argument("--list", action="store_true", help="list the presets and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    from experiments.consciousness_cluster.preset import PresetError, load_preset, preset_names

    if args.list:
        print("\n".join(preset_names()))
        return 0
    try:
        config = load_preset(args.preset)
    except PresetError as err:
        raise UserError(str(err)) from None
    from experiments.consciousness_cluster.pipeline import PROJECT_ROOT, missing_files, plan, replicate
    from experiments.consciousness_cluster.runner import RunMismatchError

    missing = missing_files(config, PROJECT_ROOT)
    if missing:
        raise UserError(f"preset {args.preset}: files it names are missing: {', '.join(missing)}")
    if args.dry_run:
        print(plan(config))
        print("preset valid: every file it names is present; nothing was loaded")
        return 0
    if not args.out:
        raise UserError("--out is required (the run folder), e.g. --out runs/organism")
    try:
        written = replicate(config, args.out, redo=args.redo, progress=not args.no_progress)
    except (RunMismatchError, ValueError) as err:
        if isinstance(err, RunMismatchError) or str(err).startswith("--redo"):
            raise UserError(str(err)) from None
        raise
    print(f"report: {args.out}/{written['report_md']} and {args.out}/{written['report_html']}")
    return 0
