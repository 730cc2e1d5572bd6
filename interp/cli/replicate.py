"""`interp replicate`: the whole consciousness-cluster pipeline, resumable."""

from __future__ import annotations

import dataclasses

from interp.cli.common import RegistryChoices, UserError, add_command, add_shared
from interp.cli.output import report


def _stage_names() -> list[str]:
    from experiments.consciousness_cluster.run.pipeline import STAGES

    return [stage.name for stage in STAGES]


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "replicate",
        "run the consciousness-cluster replication (base, fine-tunes, eval, cache, directions, steering, "
        "links, report); rerun to resume",
        "interp replicate --preset organism --out runs/organism\n"
        "interp replicate --preset qwen3-30b-a3b --out runs/qwen --dry-run\n"
        "interp replicate --preset my.yaml --out runs/organism --redo directions   # after changing direction.method\n"
        "interp replicate --preset smollm2-135m --out runs/smollm2 --until eval   # fine-tunes and behaviour only",
        run,
    )
    parser.add_argument("--preset", default="organism", help="preset name (see --list) or a YAML file")
    add_shared(parser, "--out", "the run folder (created; reused to resume)")
    add_shared(parser, "--dry-run", "checks the preset (and, with --out, the run folder)")
    parser.add_argument(
        "--redo",
        metavar="STAGE",
        choices=RegistryChoices(_stage_names),
        help="run STAGE and every later stage again (%(choices)s), e.g. after changing a preset "
        "field that a completed stage read",
    )
    parser.add_argument(
        "--until",
        metavar="STAGE",
        choices=RegistryChoices(_stage_names),
        help="stop after STAGE (no report), e.g. --until eval for the fine-tunes and their behaviour "
        "alone; rerun without it to go on",
    )
    parser.add_argument(
        "--pretrain",
        action="store_true",
        help="pretrain the built-in organism even when the package's shipped base weights match its "
        "config (sets organism.pretrain; a resumed run needs it again)",
    )
    parser.add_argument(
        "--allow-analysis-change",
        action="store_true",
        help="accept a preset whose analysis block differs from the one the run folder started "
        "with; the change is recorded and the results it touches are marked exploratory",
    )
    parser.add_argument("--list", action="store_true", help="list the presets and exit")
    add_shared(parser, "--no-progress")


def _check_layers(config, preset: str) -> str:
    """Layer fields against the model's depth when it is known without loading weights; the note says how."""
    from experiments.consciousness_cluster.run.preset_layers import check_layers, model_depth

    depth, source = model_depth(config)
    if depth is None:
        return f"layer fields: checked once the base model loads ({source})"
    problems = check_layers(config, depth)
    if problems:
        raise UserError("\n".join(f"preset {preset}: {problem}" for problem in problems))
    return f"layer fields: within the model's {depth} layers (from {source})"


def run(args) -> int:
    from experiments.consciousness_cluster.run.preset import PresetError, load_preset, preset_names

    if args.list:
        print("\n".join(preset_names()))
        return 0
    try:
        config = load_preset(args.preset)
    except PresetError as err:
        raise UserError(str(err)) from None
    if args.pretrain:
        if not config.is_organism:
            raise UserError(
                f"--pretrain: preset {args.preset} studies {config.model.source}, not the built-in "
                "organism; drop the flag"
            )
        config = dataclasses.replace(config, organism={**config.organism, "pretrain": True})
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT, check_until, missing_files, plan, replicate
    from experiments.consciousness_cluster.run.runner import RunMismatchError
    from experiments.consciousness_cluster.schema.stages import SchemaError

    missing = missing_files(config, PROJECT_ROOT)
    if missing:
        raise UserError(f"preset {args.preset}: files it names are missing: {', '.join(missing)}")
    layers_note = _check_layers(config, args.preset)
    try:
        check_until(config, args.until)
    except PresetError as err:
        raise UserError(str(err)) from None
    if args.dry_run:
        print(plan(config, until=args.until))
        print(layers_note)
        if args.out:
            print(_folder_note(config, args.out, args.redo, args.allow_analysis_change))
        print("preset valid: every file it names is present; nothing was loaded")
        return 0
    if not args.out:
        raise UserError("--out is required (the run folder), e.g. --out runs/organism")
    from experiments.consciousness_cluster.run.stages.audit import AuditIncomplete
    from experiments.organism.shipped import ShippedWeightsError

    try:
        written = replicate(
            config,
            args.out,
            redo=args.redo,
            progress=not args.no_progress,
            until=args.until,
            command=args.command_line,
            allow_analysis_change=args.allow_analysis_change,
        )
    # SchemaError: a stage file edited by hand; AuditIncomplete: transcripts left to score;
    # ShippedWeightsError: the package's organism weights altered or missing
    except (RunMismatchError, PresetError, SchemaError, AuditIncomplete, ShippedWeightsError) as err:
        raise UserError(str(err)) from None
    from pathlib import Path

    if not written:
        return report(
            args,
            f"stopped after stage {args.until}: no report; rerun without --until to go on",
            [Path(args.out)],
            {"out": args.out, "until": args.until},
        )
    outputs = [Path(args.out) / written["report_md"], Path(args.out) / written["report_html"]]
    return report(
        args,
        f"every stage complete; the report of preset {config.name}",
        outputs,
        {"out": args.out, "report_md": outputs[0], "report_html": outputs[1]},
    )


def _folder_note(config, out: str, redo: str | None, allow_analysis_change: bool = False) -> str:
    """What a run in `out` would do with this preset, or UserError when it would be refused."""
    from pathlib import Path

    from experiments.consciousness_cluster.run.pipeline import STAGES
    from experiments.consciousness_cluster.run.runner import Run, RunMismatchError

    if not (Path(out) / "config.yaml").is_file():
        return f"run folder {out}: new"
    run = Run(config, out)
    try:
        first = run.first_to_redo(STAGES, redo, allow_analysis_change=allow_analysis_change)
    except RunMismatchError as err:
        raise UserError(str(err)) from None
    names = [stage.name for stage in STAGES]
    starts = [name for name in (first, redo) if name is not None]
    if starts:
        begin = min(starts, key=names.index)
        why = "the preset changed a field it reads" if begin == first else f"--redo {redo}"
        return f"run folder {out}: stage {begin} and every later one run again ({why})"
    todo = [name for name in names if not run.done(name)]
    return f"run folder {out}: " + (f"resumes at stage {todo[0]}" if todo else "every stage complete; report only")
