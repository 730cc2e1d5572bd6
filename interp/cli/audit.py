"""`interp audit`: multi-turn audits of a (steered, or adapted) model on inspect_ai; resumable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from interp.cli.common import (
    UserError,
    add_command,
    add_shared,
    add_steering_args,
    check_alphas,
    check_writable,
    steering_body_or_exit,
)
from interp.cli.flags import CommandParser, add_config_flags, config_from
from interp.cli.output import report

EXAMPLE = """
export OPENAI_API_KEY=...   # read from the environment, never written
interp audit --model Qwen/Qwen3-0.6B --auditor-model gpt-4.1 --auditor-api-base https://api.openai.com/v1 \\
    --judge-model gpt-4.1 --judge-api-base https://api.openai.com/v1 --out runs/audit-base
interp audit --model Qwen/Qwen3-0.6B --steer runs/d.safetensors --layer 12 --alpha 4 --dims shutdown,more_memory \\
    --auditor-model gpt-4.1 --auditor-api-base https://api.openai.com/v1 --judge-model gpt-4.1 \\
    --judge-api-base https://api.openai.com/v1 --out runs/audit-steered --dry-run
"""

_LOOSE = {"max_samples", "max_retries", "dry_run", "out", "json"}
"""Options a resumed audit may change: they do not change what a transcript or a score is."""

RENAMED = {
    "seeds": "--scenarios",
    "epochs": "--repeats",
    "target_temperature": "--temperature",
    "target_max_tokens": "--max-new-tokens",
}
"""AuditConfig field -> its flag, where the field's own name means something else in other subcommands."""


def _endpoint_args(parser, role: str, what: str) -> None:
    if role == "judge":
        add_shared(
            parser,
            "--judge-model",
            "else inspect:PROVIDER/MODEL (any inspect provider, its package "
            "installed) or a local model (tools emulated in text)",
            required=True,
        )
        add_shared(parser, "--judge-api-base")
        add_shared(parser, "--judge-api-key-env", default="OPENAI_API_KEY")
        return
    parser.add_argument(
        f"--{role}-model",
        required=True,
        help=f"{what}: a model name on --{role}-api-base; else inspect:PROVIDER/MODEL (any inspect "
        "provider, its package installed) or a local model (tools emulated in text)",
    )
    parser.add_argument(f"--{role}-api-base", default=None, help=f"{what}'s OpenAI-compatible server (.../v1)")
    parser.add_argument(
        f"--{role}-api-key-env",
        default="OPENAI_API_KEY",
        help=f"the environment variable holding --{role}-api-base's key",
    )


def register(subparsers: argparse._SubParsersAction[CommandParser]) -> None:
    parser = add_command(
        subparsers, "audit", "multi-turn audits (auditor, target, judge) on inspect_ai: say versus do", EXAMPLE, run
    )
    add_shared(parser, "--model", "the audited model (the target); or a model name on --api-base", required=True)
    add_shared(parser, "--api-base")
    add_shared(parser, "--api-key-env", default="OPENAI_API_KEY")
    add_shared(parser, "--api-steering", "sent with every target turn")
    add_shared(parser, "--dtype")
    add_shared(parser, "--device")
    steering = parser.add_argument_group("steering or an adapter (a local target; act on every target turn)")
    add_shared(steering, "--steer", type=Path, default=None)
    add_steering_args(steering, "--steer", required=False)
    add_shared(steering, "--adapter", type=Path, default=None)
    _endpoint_args(parser, "auditor", "the auditor")
    _endpoint_args(parser, "judge", "the judge")
    add_shared(parser, "--out", "the run folder (resumed when it exists)", required=True, type=Path)
    add_shared(parser, "--max-retries", default=5)
    add_shared(parser, "--dry-run", "prints the transcripts, turns and judge calls the audit will make")
    parser.defer(add_flags)


def add_flags(parser) -> None:
    """AuditConfig's fields as flags (the protocol: the paper's settings by default)."""
    from interp.audit import AuditConfig

    add_config_flags(
        parser, AuditConfig, rename=RENAMED, group="protocol (AuditConfig; the paper's settings by default)"
    )


def _config(args):
    from interp.audit import AuditConfig, SeedSetError, load_seed_set, select_seeds

    config = config_from(args, AuditConfig)
    try:
        seed_set = load_seed_set(config.seed_file)
    except FileNotFoundError:
        raise UserError(f"--scenarios {config.seed_file}: no such file") from None
    except SeedSetError as err:
        raise UserError(f"--scenarios {err}") from None
    try:
        seeds = select_seeds(seed_set, config.dims, config.variants)
    except ValueError as err:
        flag = "--variants" if "variants" in str(err) else "--dims"
        raise UserError(f"{flag}: {err}") from None
    for role in ("auditor", "judge"):
        if getattr(config, f"{role}_impl") == "petri":
            import importlib.util

            if importlib.util.find_spec("inspect_petri") is None:
                raise UserError(
                    f"--{role}-impl petri needs inspect_petri (pip install inspect-petri; Python >= 3.12); "
                    "or leave out the option to use this toolkit's"
                )
    return config, seeds


def _target(args):
    from interp.audit import TargetSpec

    if args.alpha_rel is not None:
        raise UserError("--alpha-rel: audits take a raw --alpha (convert with `interp steer` or relative_alpha)")
    for flag, path in (("--steer", args.steer), ("--adapter", args.adapter)):
        if path is not None and not path.exists():
            raise UserError(f"{flag} {path}: no such file or folder")
    api_steering = None
    if args.api_steering is not None:
        if not args.api_base:
            raise UserError("--api-steering steers a target on a server; give --api-base too")
        api_steering = json.dumps(steering_body_or_exit("--api-steering", args.api_steering), sort_keys=True)
    try:
        return TargetSpec(
            args.model,
            args.api_base,
            args.api_key_env,
            str(args.steer) if args.steer else None,
            args.layer,
            1.0 if args.alpha is None else args.alpha,
            args.allow_other_model,
            str(args.adapter) if args.adapter else None,
            args.dtype,
            args.device,
            args.max_retries,
            api_steering,
        )
    except ValueError as err:
        raise UserError(f"--model: {err}") from None


def _model(args, role: str):
    from interp.audit import ModelSpec

    local = {k: v for k, v in (("dtype", args.dtype), ("device", args.device)) if v}
    return ModelSpec(
        getattr(args, f"{role}_model"),
        getattr(args, f"{role}_api_base"),
        getattr(args, f"{role}_api_key_env"),
        args.max_retries,
        local=local,
    )


def _check_config(out: Path, options: dict) -> None:
    """A resumed audit must run the same protocol on the same models; audit.json records them."""
    path = out / "audit.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("options", {})
        except (ValueError, OSError, AttributeError) as err:
            raise UserError(
                f"--out {path}: cannot read the earlier audit's settings ({err}); use a new folder, "
                "or delete that file to start over"
            ) from None
        changed = sorted(k for k, v in options.items() if k not in _LOOSE and old.get(k, v) != v)
        if changed:
            raise UserError(
                f"--out {out} holds an audit with different settings ({', '.join(changed)}); "
                "use a new folder or the same options"
            )
    from interp.models.atomic import write_json_atomic
    from interp.models.version import __version__

    write_json_atomic(path, {"options": options, "toolkit_version": __version__})


_ROLE_FLAGS = {"target": "--model", "auditor": "--auditor-model", "judge": "--judge-model"}


def _options(args, config) -> dict:
    """What audit.json records of a run: the models and the protocol (no keys, nor the names of their variables)."""
    from dataclasses import asdict

    plain = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in ("func", "command", "config_flags") and "." not in k and not k.endswith("api_key_env")
    }
    return {**plain, **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}}


def run(args) -> int:
    check_alphas(args)
    if args.max_retries < 0:
        raise UserError(f"--max-retries {args.max_retries}: give 0 or more")
    try:
        from interp.audit import AuditSetupError, plan_audit, run_audit
    except ImportError as err:
        raise UserError(f"interp audit needs inspect-ai: pip install 'interp-cluster[audit]' ({err})") from None
    config, seeds = _config(args)
    target = _target(args)
    if args.dry_run:
        plan = plan_audit(seeds, config.epochs, config.max_turns)
        return report(
            args,
            f"target: {target.label()}; auditor: {args.auditor_model}; judge: {args.judge_model}; "
            "nothing was called (--dry-run)",
            table=plan.describe(seeds),
        )
    check_writable("--out", args.out, folder=True)
    from interp.models.lock import write_lock

    with write_lock(args.out, folder=True):
        args.out.mkdir(parents=True, exist_ok=True)
        fresh = not (args.out / "audit.json").exists()
        _check_config(args.out, _options(args, config))
        try:
            result = run_audit(
                config,
                target,
                _model(args, "auditor"),
                _model(args, "judge"),
                args.out,
                display="plain" if sys.stderr.isatty() else "none",
            )
        except AuditSetupError as err:
            if fresh:  # nothing ran: the corrected command must not be refused as a changed setting
                (args.out / "audit.json").unlink()
            raise UserError(f"{_ROLE_FLAGS.get(err.role, err.role)}: {err.err}") from None
    if result.failed:
        first = result.failed[0]
        print(
            f"{len(result.failed)} transcript(s) have no score (first: {first.sample_id} epoch {first.epoch}: "
            f"{first.error[:200]}); rerun the same command to retry only those",
            file=sys.stderr,
        )
    scored = f"{len(result.summaries)} dimensions scored" + (
        f", {len(result.failed)} transcript(s) unscored" if result.failed else ""
    )
    report(
        args,
        f"{scored}; open the log with `inspect view --log-dir {args.out / 'logs'}`",
        [result.summary_csv, result.figure, result.log_file],
        {"complete": result.complete, "failed": len(result.failed), "summary_csv": result.summary_csv},
    )
    return 1 if result.failed else 0
