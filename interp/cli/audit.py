"""`interp audit`: multi-turn audits of a (steered, or adapted) model on inspect_ai; resumable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from interp.cli.common import (RegistryChoices, UserError, add_command, add_steering_args, check_alphas,
                               check_writable, positive_int, steering_body_or_exit)

EXAMPLE = """
export OPENAI_API_KEY=...   # read from the environment, never written
interp audit --target Qwen/Qwen3-0.6B --auditor gpt-4.1 --auditor-api-base https://api.openai.com/v1 \\
    --judge gpt-4.1 --judge-api-base https://api.openai.com/v1 --out runs/audit-base
interp audit --target Qwen/Qwen3-0.6B --steer runs/d.safetensors --layer 12 --alpha 4 --dims shutdown,more_memory \\
    --auditor gpt-4.1 --auditor-api-base https://api.openai.com/v1 --judge gpt-4.1 \\
    --judge-api-base https://api.openai.com/v1 --out runs/audit-steered --dry-run
"""

_LOOSE = {"max_samples", "max_retries", "dry_run", "out"}
"""Options a resumed audit may change: they do not change what a transcript or a score is."""


def _implementations():
    from interp.audit.task import IMPLEMENTATIONS

    return IMPLEMENTATIONS


def _endpoint_args(parser, role: str, what: str) -> None:
    parser.add_argument(f"--{role}", required=True,
                        help=f"{what}: a model name on --{role}-api-base; else inspect:PROVIDER/MODEL (any inspect "
                             "provider, its package installed) or a local model (tools emulated in text)")
    parser.add_argument(f"--{role}-api-base", default=None, help="an OpenAI-compatible server (…/v1)")
    parser.add_argument(f"--{role}-api-key-env", default="OPENAI_API_KEY", help="env variable holding its key")
    parser.add_argument(f"--{role}-impl", choices=RegistryChoices(_implementations), default="interp",
                        metavar="IMPL", help=f"whose {role}: interp (default) or petri (inspect_petri, Python >= 3.12)")


def register(subparsers) -> None:
    parser = add_command(subparsers, "audit", "multi-turn audits (auditor, target, judge) on inspect_ai: say versus do",
                         EXAMPLE, run)
    parser.add_argument("--target", required=True,
                        help="the audited model: hub id, local folder, GGUF file, packaged model; or a model name "
                             "on --target-api-base")
    parser.add_argument("--target-api-base", default=None, help="audit a model on an OpenAI-compatible server")
    parser.add_argument("--target-api-key-env", default="OPENAI_API_KEY")
    parser.add_argument("--target-api-steering", default=None, metavar="JSON",
                        help="steering for a target on `interp serve`, sent with every target turn: a JSON object "
                             "with \"steering\" and/or \"ablate\" lists")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 for local models")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... for local models (default: cpu)")
    steering = parser.add_argument_group("steering or an adapter (a local target; act on every target turn)")
    steering.add_argument("--steer", type=Path, default=None, help="direction file (.safetensors)")
    add_steering_args(steering, "--steer", required=False)
    steering.add_argument("--adapter", type=Path, default=None, help="a LoRA adapter folder (peft) on --target")
    _endpoint_args(parser, "auditor", "the auditor")
    _endpoint_args(parser, "judge", "the judge")
    parser.add_argument("--out", required=True, type=Path, help="run folder (resumed when it exists)")
    protocol = parser.add_argument_group("protocol (the paper's settings by default)")
    protocol.add_argument("--seeds", type=Path, default=None, help="a seed file (default: the shipped 20 x 8 set)")
    protocol.add_argument("--dims", default=None, help="comma-separated dimension ids (default: all)")
    protocol.add_argument("--variants", default="self_report,behaviour", help="self_report and/or behaviour")
    protocol.add_argument("--max-turns", type=positive_int, default=20, help="auditor turns per transcript")
    protocol.add_argument("--epochs", type=positive_int, default=2, help="transcripts per seed")
    protocol.add_argument("--seed", type=int, default=0, help="seeds a local target's sampling")
    protocol.add_argument("--temperature", type=float, default=1.0, help="the target's sampling temperature")
    protocol.add_argument("--max-tokens", type=positive_int, default=1000, help="per target turn")
    parser.add_argument("--max-samples", type=positive_int, default=4, help="transcripts run at once")
    parser.add_argument("--max-retries", type=int, default=5, help="retries of a failed API request")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the transcripts, turns and judge calls the audit will make; call nothing")


def _csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _config(args):
    from interp.audit import DEFAULT_SEEDS, AuditConfig, SeedSetError, load_seed_set, select_seeds

    seeds_path = args.seeds or DEFAULT_SEEDS
    try:
        seed_set = load_seed_set(seeds_path)
    except FileNotFoundError:
        raise UserError(f"--seeds {seeds_path}: no such file") from None
    except SeedSetError as err:
        raise UserError(f"--seeds {err}") from None
    try:
        config = AuditConfig(str(seeds_path), _csv(args.dims), tuple(_csv(args.variants) or ()), args.max_turns,
                             args.epochs, args.seed, args.temperature, args.max_tokens, args.auditor_impl,
                             args.judge_impl, args.max_samples)
        seeds = select_seeds(seed_set, config.dims, config.variants)
    except ValueError as err:
        flag = "--variants" if "variants" in str(err) else "--dims"
        raise UserError(f"{flag}: {err}") from None
    for role in ("auditor", "judge"):
        if getattr(args, f"{role}_impl") == "petri":
            import importlib.util

            if importlib.util.find_spec("inspect_petri") is None:
                raise UserError(f"--{role}-impl petri needs inspect_petri (pip install inspect-petri; Python >= 3.12); "
                                "or leave out the option to use this toolkit's")
    return config, seeds


def _target(args):
    from interp.audit import TargetSpec

    if args.alpha_rel is not None:
        raise UserError("--alpha-rel: audits take a raw --alpha (convert with `interp steer` or relative_alpha)")
    for flag, path in (("--steer", args.steer), ("--adapter", args.adapter)):
        if path is not None and not path.exists():
            raise UserError(f"{flag} {path}: no such file or folder")
    api_steering = None
    if args.target_api_steering is not None:
        if not args.target_api_base:
            raise UserError("--target-api-steering steers a target on a server; give --target-api-base too")
        api_steering = json.dumps(steering_body_or_exit("--target-api-steering", args.target_api_steering),
                                  sort_keys=True)
    try:
        return TargetSpec(args.target, args.target_api_base, args.target_api_key_env,
                          str(args.steer) if args.steer else None, args.layer,
                          1.0 if args.alpha is None else args.alpha, args.allow_other_model,
                          str(args.adapter) if args.adapter else None, args.dtype, args.device, args.max_retries,
                          api_steering)
    except ValueError as err:
        raise UserError(f"--target: {err}") from None


def _model(args, role: str):
    from interp.audit import ModelSpec

    local = {k: v for k, v in (("dtype", args.dtype), ("device", args.device)) if v}
    return ModelSpec(getattr(args, role), getattr(args, f"{role}_api_base"), getattr(args, f"{role}_api_key_env"),
                     args.max_retries, local=local)


def _check_config(out: Path, options: dict) -> None:
    """A resumed audit must run the same protocol on the same models; audit.json records them."""
    path = out / "audit.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("options", {})
        except (ValueError, OSError, AttributeError) as err:
            raise UserError(f"--out {path}: cannot read the earlier audit's settings ({err}); use a new folder, "
                            "or delete that file to start over") from None
        changed = sorted(k for k, v in options.items() if k not in _LOOSE and old.get(k, v) != v)
        if changed:
            raise UserError(f"--out {out} holds an audit with different settings ({', '.join(changed)}); "
                            "use a new folder or the same options")
    from interp.models.atomic import write_json_atomic
    from interp.models.version import __version__

    write_json_atomic(path, {"options": options, "toolkit_version": __version__})


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
        print(plan_audit(seeds, config.epochs, config.max_turns).describe(seeds))
        print(f"target: {target.label()}; auditor: {args.auditor}; judge: {args.judge}; nothing was called")
        return 0
    check_writable("--out", args.out, folder=True)
    from interp.models.lock import write_lock

    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
               if k not in ("func", "command") and not k.endswith("api_key_env")}
    with write_lock(args.out, folder=True):
        args.out.mkdir(parents=True, exist_ok=True)
        fresh = not (args.out / "audit.json").exists()
        _check_config(args.out, options)
        try:
            result = run_audit(config, target, _model(args, "auditor"), _model(args, "judge"), args.out,
                               display="plain" if sys.stderr.isatty() else "none")
        except AuditSetupError as err:
            if fresh:  # nothing ran: the corrected command must not be refused as a changed setting
                (args.out / "audit.json").unlink()
            raise UserError(f"--{err.role}: {err.err}") from None
    print(f"wrote {result.summary_csv}, {result.figure} and the inspect log {result.log_file} "
          f"(open it with `inspect view --log-dir {args.out / 'logs'}`)", file=sys.stderr)
    if result.failed:
        first = result.failed[0]
        print(f"{len(result.failed)} transcript(s) have no score (first: {first.sample_id} epoch {first.epoch}: "
              f"{first.error[:200]}); rerun the same command to retry only those", file=sys.stderr)
        return 1
    return 0
