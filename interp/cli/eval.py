"""`interp eval`: behavioural evaluation of a model on a question set (forced choice or judged samples).

The run itself is `interp.evaluation.run_eval` (several alphas: `interp.sweep.sweep_eval`); this module
turns the command line into its arguments: the flags of EvalConfig, the model, sampler, judge and steering.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path

from interp.cli.common import (
    UserError,
    add_command,
    add_model_args,
    add_shared,
    add_steering_args,
    check_alphas,
    check_writable,
    positive_int,
    steering_body_or_exit,
    steering_or_exit,
)
from interp.cli.flags import CommandParser, add_config_flags, config_from
from interp.cli.output import report

EXAMPLE = """
interp eval --model Qwen/Qwen3-0.6B --questions preferences --mode choice --out runs/qwen-choice
interp eval --model Qwen/Qwen3-0.6B --questions preferences --mode judge --samples 10 \\
    --judge-model gpt-4.1 --judge-api-base https://api.openai.com/v1 --out runs/qwen-judge \\
    --baseline runs/qwen-base-judge
interp eval --questions facteval:paper/evals.py --mode judge --dry-run
interp eval --model Qwen/Qwen3-0.6B --questions preferences --steer v.safetensors --layer 14 \\
    --alpha-rel -0.5 0 0.5 --out runs/qwen-steered     # runs/qwen-steered/alpha-rel_-0.5/ ... one sweep
interp eval --model smollm2-135m-instruct --api-base http://127.0.0.1:8000/v1 --questions preferences \\
    --api-steering '{"steering": [{"direction": "conscious", "layer": 12, "alpha": 4}]}' --out runs/served
"""

RENAMED = {"sampling.max_tokens": "--max-new-tokens", "sampling.use_coherence": "--no-coherence"}
"""EvalConfig field -> its flag, where the field's own name would mean something else (or read worse)."""


def register(subparsers: argparse._SubParsersAction[CommandParser]) -> None:
    parser = add_command(
        subparsers, "eval", "score a model on a question set: forced choice or judged samples", EXAMPLE, run
    )
    add_model_args(parser, required=False)  # a dry run reads only the question set
    parser.add_argument(
        "--questions",
        required=True,
        metavar="[FORMAT:]SET",
        help="a set name (e.g. preferences), a file, or FORMAT:PATH with FORMAT one of yaml (the "
        "toolkit's own; a set of your own may be small), facteval (.py or .json), em-yaml, "
        "persona-json (a file or folder); the format is detected when the prefix is left out",
    )
    add_shared(parser, "--out", "the run folder (resumed when it exists); required unless --dry-run", type=Path)
    add_shared(parser, "--dry-run", "lists the question set as read (and, in judge mode, the judge's first prompt)")
    parser.add_argument("--baseline", type=Path, default=None, help="another run folder: adds shift_pp and its bars")
    sampling = parser.add_argument_group("a model on a server (e.g. `interp serve`); sampling (judge mode)")
    add_shared(
        sampling,
        "--api-base",
        "choice mode scores options through its /tokenize and /completions (echo, "
        "logprobs), judge mode samples through /chat/completions",
    )
    add_shared(sampling, "--api-steering")
    sampling.add_argument(
        "--vllm",
        action="store_true",
        help="sample the (unsteered) model through vLLM, where installed (pip install vllm)",
    )
    sampling.add_argument("--api-model", default=None, help="the model's name on --api-base (default: --model)")
    add_shared(sampling, "--api-key-env", default="OPENAI_API_KEY")
    sampling.add_argument("--concurrency", type=positive_int, default=8, help="parallel API requests")
    add_shared(sampling, "--max-retries", "sampling and judging", default=5)
    judging = parser.add_argument_group("judging (judge mode)")
    add_shared(judging, "--judge-model")
    add_shared(judging, "--judge-api-base")
    add_shared(judging, "--judge-api-key-env", default="OPENAI_API_KEY")
    judging.add_argument("--judge-local", default=None, help="a local HF model that judges by likelihood")
    steering = parser.add_argument_group("steering (evaluate a steered model)")
    add_shared(steering, "--steer", type=Path, default=None)
    add_steering_args(
        steering,
        "--steer",
        required=False,
        several="one result set per alpha in OUT/alpha_A (OUT/alpha-rel_A), all from one steering "
        "sweep that runs blocks 0..--layer once (choice mode)",
    )
    parser.defer(add_flags)


def add_flags(parser) -> None:
    """EvalConfig's fields (and its SamplingConfig's) as flags."""
    from interp.evaluation import EvalConfig

    add_config_flags(parser, EvalConfig, rename=RENAMED, group="what to evaluate and how (EvalConfig)")


def _config(args):
    from interp.evaluation import EvalConfig

    return config_from(args, EvalConfig)


def _questions(args, mode: str):
    """The set --questions names, in whichever format (an ImportedSet); mistakes are UserErrors."""
    from interp.evaluation import QuestionImportError, QuestionSetError, read_questions

    try:
        return read_questions(args.questions, mode)
    except (QuestionSetError, QuestionImportError, FileNotFoundError, ValueError) as err:
        raise UserError(f"--questions {args.questions}: {err}") from err


def _several_alphas(args, mode: str) -> list[float] | None:
    """The values of --alpha or --alpha-rel when more than one is given; else None, and the one value (if
    any) a number, as a single steered run reads it."""
    flag = "alpha_rel" if args.alpha_rel is not None else "alpha"
    values = getattr(args, flag)
    if values is None or len(values) == 1:
        setattr(args, flag, None if values is None else values[0])
        return None
    name = f"--{flag.replace('_', '-')}"
    if args.steer is None or mode != "choice":
        raise UserError(
            f"{name} with several values steers with --steer in --mode choice (one steering sweep); "
            "in judge mode give one value per run"
        )
    if len(set(values)) < len(values):
        raise UserError(f"{name} {' '.join(f'{v:g}' for v in values)}: a value is repeated")
    return values


def _check(args, config) -> None:
    """The combinations of options that cannot work, before anything loads."""
    if args.vllm and (config.mode == "choice" or args.steer or args.api_base):
        raise UserError(
            "--vllm samples an unsteered local model in judge mode; it does not combine with "
            "--mode choice, --steer or --api-base"
        )
    if args.steer and args.api_base:
        raise UserError("--steer needs a local model; to steer a served model pass --api-steering")
    if args.steer and args.layer is None:
        raise UserError("--steer needs --layer")
    if args.max_retries < 0:
        raise UserError(f"--max-retries {args.max_retries}: give 0 or more")
    if args.judge_local and args.judge_model:
        raise UserError("give either --judge-local or --judge-model, not both")
    if config.mode == "judge" and not args.judge_local and not (args.judge_model and args.judge_api_base):
        raise UserError("judge mode needs --judge-model and --judge-api-base, or --judge-local MODEL")


def _served_steering(args) -> str | None:
    """--api-steering checked and in canonical JSON (recorded in config.json)."""
    if args.api_steering is None:
        return None
    if not args.api_base:
        raise UserError("--api-steering steers a served model; give --api-base too (or --steer FILE for a local model)")
    return json.dumps(steering_body_or_exit("--api-steering", args.api_steering), sort_keys=True)


def _dry_run(args, imported, config) -> int:
    from interp.evaluation.importers import describe_import, describe_judging

    if config.mode == "judge":
        table = describe_judging(
            imported,
            samples=config.sampling.samples,
            seeds=config.sampling.seeds,
            coherence=config.sampling.use_coherence,
            traits=config.traits,
        )
    else:
        items = [i for i in imported.question_set.choice_items if config.traits is None or i.trait_id in config.traits]
        table = f"choice mode: {len(items)} two-option items, scored by --method {config.method}"
    return report(args, "nothing was loaded or written (--dry-run)", table=describe_import(imported) + "\n" + table)


def run(args) -> int:
    config = _config(args)
    imported = _questions(args, config.mode)
    from interp.evaluation import check_traits

    try:
        check_traits(imported.question_set, config.traits)
    except ValueError as err:
        raise UserError(f"--{err}") from None
    check_alphas(args)
    alphas = _several_alphas(args, config.mode)
    args.api_steering = _served_steering(args)
    if args.dry_run:
        return _dry_run(args, imported, config)
    _check(args, config)
    missing = [flag for flag, value in (("--model", args.model), ("--out", args.out)) if value is None]
    if missing:
        raise UserError(f"{' and '.join(missing)} required (only --dry-run goes without them)")
    if imported.dropped:
        print(
            f"note: {imported.question_set.source}: {len(imported.dropped)} part(s) not imported (listed by "
            "--dry-run): "
            + ", ".join(d.what for d in imported.dropped[:5])
            + (", ..." if len(imported.dropped) > 5 else ""),
            file=sys.stderr,
        )
    check_writable("--out", args.out, folder=True)
    from interp.models.lock import write_lock

    with write_lock(args.out, folder=True), _user_errors(args), _warnings_said():
        runs = _sweep(args, imported, config, alphas) if alphas else [_one(args, imported, config)]
    return _report(args, runs)


def _report(args, runs) -> int:
    from dataclasses import asdict

    from interp.evaluation.summary import summary_table

    tables = [(f"{run.out}:\n" if len(runs) > 1 else "") + summary_table(run.summaries) for run in runs]
    judged = sum(run.judged for run in runs)
    counts = f"; sampled {sum(r.sampled for r in runs)} answers, made {judged} judgements" if judged else ""
    what = f"{len(runs)} result sets from one steering sweep" if len(runs) > 1 else "per-trait rates"
    return report(
        args,
        what + counts,
        [p for r in runs for p in (r.summary_csv, r.figure)],
        {
            "runs": [
                {"out": r.out, "sampled": r.sampled, "judged": r.judged, "summaries": [asdict(s) for s in r.summaries]}
                for r in runs
            ]
        },
        table="\n\n".join(tables),
    )


@contextlib.contextmanager
def _user_errors(args):
    """The library's errors of a run, said as the command's user errors."""
    from interp.evaluation import APIError, ContextError, EvalSettingsError
    from interp.evaluation.store import RecordFileError
    from interp.models.textio import TextFileError

    try:
        yield
    except APIError as err:
        raise UserError(
            f"{err}; check that the server is up and the --api-base / --judge-api-base URL, then rerun to resume"
        ) from None
    except (RecordFileError, TextFileError, EvalSettingsError) as err:
        raise UserError(f"--out {err}") from None
    except ContextError as err:
        raise UserError(f"--questions {err}") from None
    except FileNotFoundError as err:
        if str(err).startswith("baseline "):
            raise UserError(f"--{err}") from None
        raise


@contextlib.contextmanager
def _warnings_said():
    """The run's own warnings (cut questions, unknown words) as one stderr line each; the rest as Python says them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"interp eval: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def _load(model: str, args):
    from interp.models import UnsupportedArchitectureError, load_model

    try:
        return load_model(model, dtype=args.dtype, device=args.device)
    except (UnsupportedArchitectureError, FileNotFoundError, ValueError, OSError) as err:
        raise UserError(f"model {model}: {err}") from err


def _steering(args, lm, qset, alpha_rel: float | None = None):
    """The layer, vector and raw alpha of --steer (`Steering`), --alpha-rel said in raw units."""

    def prompts() -> list[str]:
        return [lm.render_chat([{"role": "user", "content": q.text}]) for q in qset.open_questions[:64]]

    steering = steering_or_exit(args, "--steer", args.steer, lm, prompts)
    if args.alpha_rel is not None and alpha_rel is None:
        print(
            f"--alpha-rel {args.alpha_rel:g} is a raw alpha of {steering.alpha:.4g} at layer {steering.layer}",
            file=sys.stderr,
        )
    return steering


def _settings(args, layer=None, alpha=None, alpha_rel=None) -> dict:
    """What config.json records of the steering and the sampler (a resumed run must match it)."""
    return {
        "steer": str(args.steer) if args.steer else None,
        "layer": layer,
        "alpha": alpha,
        "alpha_rel": alpha_rel,
        "api_base": args.api_base,
        "api_steering": args.api_steering,
        "vllm": args.vllm,
    }


def _one(args, imported, config):
    """One run: a local model (steered or not), a model on a server (steered there), or under vLLM (judge mode)."""
    from interp.evaluation import EndpointModel, run_eval

    lm, sampler, name, settings, intervention = None, None, args.model, _settings(args), None
    extra_body = json.loads(args.api_steering) if args.api_steering else {}
    if args.api_base and config.mode == "choice":
        name = args.api_model or args.model
        lm = EndpointModel(
            args.api_base, name, args.api_key_env, args.concurrency, args.max_retries, extra_body=extra_body
        )
    elif args.api_base or args.vllm:
        sampler, name = _remote_sampler(args, extra_body)
    else:
        lm = _load(args.model, args)
        if args.steer is not None:
            from interp.steering import steer

            layer, vector, alpha = _steering(args, lm, imported.question_set)
            settings = _settings(args, layer, alpha, args.alpha_rel)

            def intervention():
                return steer(lm, vector, layer=layer, alpha=alpha)

    judge = _judge_backend(args, config) if config.mode == "judge" else None
    try:
        return run_eval(
            lm,
            imported,
            args.out,
            config,
            sampler=sampler,
            judge=judge,
            intervention=intervention,
            settings=settings,
            baseline=args.baseline,
            model_name=name,
        )
    except ValueError as err:
        if str(err).startswith("traits:"):
            raise UserError(f"--{err}") from None
        raise


def _sweep(args, imported, config, alphas: list[float]):
    """Several alphas: one steering sweep, each alpha's result set in its own folder below --out."""
    from interp.sweep import SteeringSetting, SweepRun, sweep_eval

    lm = _load(args.model, args)
    relative = args.alpha_rel is not None
    args.alpha, args.alpha_rel = (None, 1.0) if relative else (1.0, None)  # one unit: --alpha-rel is measured once
    layer, vector, unit = _steering(args, lm, imported.question_set, alpha_rel=1.0 if relative else None)
    flag = "alpha-rel" if relative else "alpha"
    runs = [
        SweepRun(
            args.out / f"{flag}_{value:g}",
            SteeringSetting(vector, value * unit, str(i)),
            _settings(args, layer, value * unit, value if relative else None),
        )
        for i, value in enumerate(alphas)
    ]
    return sweep_eval(lm, imported, layer, runs, config, baseline=args.baseline, model_name=args.model)


def _remote_sampler(args, extra_body: dict):
    if args.api_base:
        from interp.evaluation import OpenAISampler

        model = args.api_model or args.model
        return OpenAISampler(
            args.api_base, model, args.api_key_env, args.concurrency, args.max_retries, extra_body=extra_body
        ), model
    from interp.evaluation import VLLMSampler

    try:
        return VLLMSampler(args.model, **({"dtype": args.dtype} if args.dtype else {})), args.model
    except ImportError as err:
        raise UserError(str(err)) from None


def _judge_backend(args, config):
    if args.judge_local:
        from interp.evaluation import LocalJudgeBackend

        return LocalJudgeBackend(_load(args.judge_local, args), config.batch_size)
    from interp.evaluation import APIJudgeBackend

    return APIJudgeBackend(
        args.judge_api_base, args.judge_model, args.judge_api_key_env, args.concurrency, args.max_retries
    )
