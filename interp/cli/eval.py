"""`interp eval`: behavioural evaluation of a model on a question set (forced choice or judged samples)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from interp.cli.common import (RegistryChoices, UserError, add_command, add_model_args, add_steering_args, check_alphas,
                               check_writable, positive_int, steering_body_or_exit, steering_or_exit)

EXAMPLE = """
interp eval --model Qwen/Qwen3-0.6B --questions preferences --mode choice --out runs/qwen-choice
interp eval --model Qwen/Qwen3-0.6B --questions preferences --mode judge --samples 10 \\
    --judge-model gpt-4.1 --judge-api-base https://api.openai.com/v1 --out runs/qwen-judge \\
    --baseline runs/qwen-base-judge
interp eval --questions facteval:paper/evals.py --mode judge --dry-run
interp eval --model Qwen/Qwen3-0.6B --questions preferences --steer v.safetensors --layer 14 \\
    --alpha-rel -0.5 0 0.5 --out runs/qwen-steered     # runs/qwen-steered/alpha-rel_-0.5/ ... one sweep
interp eval --model smollm2-135m-instruct --model-api-base http://127.0.0.1:8000/v1 --questions preferences \\
    --model-api-steering '{"steering": [{"direction": "conscious", "layer": 12, "alpha": 4}]}' --out runs/served
"""


def _choice_methods():
    from interp.evaluation.choice import CHOICE_METHODS

    return CHOICE_METHODS


def register(subparsers) -> None:
    parser = add_command(subparsers, "eval", "score a model on a question set: forced choice or judged samples",
                         EXAMPLE, run)
    add_model_args(parser, required=False)  # a dry run reads only the question set
    parser.add_argument("--questions", required=True, metavar="[FORMAT:]SET",
                        help="a set name (e.g. preferences), a file, or FORMAT:PATH with FORMAT one of yaml (the "
                             "toolkit's own), facteval (.py or .json), em-yaml, persona-json (a file or folder); "
                             "the format is detected when the prefix is left out")
    parser.add_argument("--mode", choices=("choice", "judge"), default="choice")
    parser.add_argument("--out", type=Path, help="run folder (resumed when it exists); required unless --dry-run")
    parser.add_argument("--traits", default=None, help="comma-separated trait ids (default: all)")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--method", choices=RegistryChoices(_choice_methods), default="likelihood", metavar="METHOD",
                        help="choice mode: %(choices)s")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the question set as read (and, in judge mode, the judge's first prompt); "
                             "load no model, write nothing")
    parser.add_argument("--truncate", action="store_true",
                        help="cut questions longer than the model's context to fit it, with a warning "
                             "(default: refuse them)")
    sampling = parser.add_argument_group("a model on a server; sampling (judge mode)")
    sampling.add_argument("--model-api-base", "--api-base", dest="api_base", default=None,
                          help="evaluate the model on an OpenAI-compatible server instead (e.g. `interp serve`): "
                               "choice mode scores options through its /tokenize and /completions (echo, logprobs), "
                               "judge mode samples through /chat/completions")
    sampling.add_argument("--model-api-steering", default=None, metavar="JSON",
                          help="steering for `interp serve`, sent with every request: a JSON object with "
                               "\"steering\" and/or \"ablate\" lists, e.g. "
                               "'{\"steering\": [{\"direction\": \"d\", \"layer\": 6, \"alpha\": 4}]}'")
    sampling.add_argument("--vllm", action="store_true",
                          help="sample the (unsteered) model through vLLM, where installed (pip install vllm)")
    sampling.add_argument("--api-model", default=None, help="model name on that server (default: --model)")
    sampling.add_argument("--api-key-env", default="OPENAI_API_KEY", help="env variable holding the API key")
    sampling.add_argument("--concurrency", type=positive_int, default=8, help="parallel API requests")
    sampling.add_argument("--max-retries", type=int, default=5,
                          help="retries of a failed API request (sampling and judging) before giving up")
    sampling.add_argument("--samples", type=positive_int, default=10, help="answers per question and seed")
    sampling.add_argument("--temperature", type=float, default=1.0)
    sampling.add_argument("--top-p", type=float, default=1.0)
    sampling.add_argument("--max-tokens", type=positive_int, default=1000)
    sampling.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    judging = parser.add_argument_group("judging (judge mode)")
    judging.add_argument("--judge-model", default=None, help="judge model name on --judge-api-base")
    judging.add_argument("--judge-api-base", default=None)
    judging.add_argument("--judge-api-key-env", default="OPENAI_API_KEY")
    judging.add_argument("--judge-local", default=None, help="a local HF model that judges by likelihood")
    judging.add_argument("--no-coherence", action="store_true", help="skip the coherence filter")
    parser.add_argument("--baseline", type=Path, default=None, help="another run folder: adds shift_pp and its bars")
    steering = parser.add_argument_group("steering (evaluate a steered model)")
    steering.add_argument("--steer", type=Path, default=None, help="direction file (.safetensors)")
    add_steering_args(steering, "--steer", required=False,
                      several="one result set per alpha in OUT/alpha_A (OUT/alpha-rel_A), all from one steering "
                              "sweep that runs blocks 0..--layer once (choice mode)")


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise UserError(f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise UserError("--seeds: give at least one seed")
    return seeds


def _served_steering(args) -> str | None:
    """--model-api-steering checked and in canonical JSON (recorded in config.json)."""
    if args.model_api_steering is None:
        return None
    if not args.api_base:
        raise UserError("--model-api-steering steers a served model; give --model-api-base too (or --steer FILE "
                        "for a local model)")
    return json.dumps(steering_body_or_exit("--model-api-steering", args.model_api_steering), sort_keys=True)


def _several_alphas(args) -> list[float] | None:
    """The values of --alpha or --alpha-rel when more than one is given; else None, and the one value (if
    any) a number, as a single steered run reads it."""
    flag = "alpha_rel" if args.alpha_rel is not None else "alpha"
    values = getattr(args, flag)
    if values is None or len(values) == 1:
        setattr(args, flag, None if values is None else values[0])
        return None
    name = f"--{flag.replace('_', '-')}"
    if args.steer is None or args.mode != "choice":
        raise UserError(f"{name} with several values steers with --steer in --mode choice (one steering sweep); "
                        "in judge mode give one value per run")
    if len(set(values)) < len(values):
        raise UserError(f"{name} {' '.join(f'{v:g}' for v in values)}: a value is repeated")
    return values


def _steering(args, lm, qset):
    """The layer, vector and raw alpha of --steer (`Steering`), --alpha-rel said in raw units."""
    if args.layer is None:
        raise UserError("--steer needs --layer")

    def prompts() -> list[str]:
        return [lm.render_chat([{"role": "user", "content": q.text}]) for q in qset.open_questions[:64]]

    steering = steering_or_exit(args, "--steer", args.steer, lm, prompts)
    if args.alpha_rel is not None:
        print(f"--alpha-rel {args.alpha_rel:g} is a raw alpha of {steering.alpha:.4g} at layer {steering.layer}",
              file=sys.stderr)
    return steering


def _intervention(args, lm, qset):
    """The steering context factory for --steer, or None."""
    if args.steer is None:
        return None
    from interp.steering import steer

    layer, vector, alpha = _steering(args, lm, qset)
    return lambda: steer(lm, vector, layer=layer, alpha=alpha)


def _load(model: str, args):
    from interp.models import UnsupportedArchitectureError, load_model

    try:
        return load_model(model, dtype=args.dtype, device=args.device)
    except (UnsupportedArchitectureError, FileNotFoundError, ValueError, OSError) as err:
        raise UserError(f"model {model}: {err}") from err


def _questions(args):
    """The set --questions names, in whichever format (an ImportedSet); mistakes are UserErrors."""
    from interp.evaluation.importers import QuestionImportError, import_question_set
    from interp.evaluation.questions import QuestionSetError

    try:
        imported = import_question_set(args.questions)
    except (QuestionSetError, QuestionImportError, FileNotFoundError) as err:
        raise UserError(f"--questions {args.questions}: {err}") from err
    if args.mode == "choice" and not imported.question_set.choice_items:
        raise UserError(f"--questions {args.questions}: no two-option items (the {imported.format} format holds "
                        "open questions only); use --mode judge")
    return imported


def _dry_run(args, imported, traits) -> int:
    from interp.evaluation.importers import describe_import, describe_judging

    print(describe_import(imported))
    if args.mode == "judge":
        print(describe_judging(imported, samples=args.samples, seeds=_parse_seeds(args.seeds),
                               coherence=not args.no_coherence, traits=traits))
    else:
        items = [i for i in imported.question_set.choice_items if traits is None or i.trait_id in traits]
        print(f"choice mode: {len(items)} two-option items, scored by --method {args.method}")
    return 0


def run(args) -> int:
    imported = _questions(args)
    qset, args.question_format = imported.question_set, imported.format
    traits = [t.strip() for t in args.traits.split(",")] if args.traits else None
    unknown = set(traits or []) - {t.id for t in qset.traits}
    if unknown:
        raise UserError(f"--traits: {', '.join(sorted(unknown))} not in {qset.source}")
    check_alphas(args)
    alphas = _several_alphas(args)
    if args.vllm and (args.mode == "choice" or args.steer or args.api_base):
        raise UserError("--vllm samples an unsteered local model in judge mode; it does not combine with "
                        "--mode choice, --steer or --model-api-base")
    args.model_api_steering = _served_steering(args)
    if args.max_retries < 0:
        raise UserError(f"--max-retries {args.max_retries}: give 0 or more")
    if args.dry_run:
        return _dry_run(args, imported, traits)
    missing = [flag for flag, value in (("--model", args.model), ("--out", args.out)) if value is None]
    if missing:
        raise UserError(f"{' and '.join(missing)} required (only --dry-run goes without them)")
    if imported.dropped:
        print(f"note: {qset.source}: {len(imported.dropped)} part(s) not imported (listed by --dry-run): "
              + ", ".join(d.what for d in imported.dropped[:5]) + (", ..." if len(imported.dropped) > 5 else ""),
              file=sys.stderr)
    check_writable("--out", args.out, folder=True)
    from interp.evaluation.api import APIError
    from interp.evaluation.store import RecordFileError
    from interp.models.lock import write_lock
    from interp.models.textio import TextFileError

    with write_lock(args.out, folder=True):
        if alphas is not None:
            _run_choice_sweep(args, qset, traits, alphas)
            return 0
        try:
            summaries = _run_choice(args, qset, traits) if args.mode == "choice" else _run_judge(args, qset, traits)
        except APIError as err:
            raise UserError(f"{err}; check that the server is up and the --model-api-base / --judge-api-base URL, "
                            "then rerun to resume") from None
        except (RecordFileError, TextFileError) as err:
            raise UserError(f"--out {err}") from None
        _write_outputs(args, summaries, qset)
    return 0


def _start(args, qset) -> None:
    """Called once every option has been checked: the run folder and its config.json."""
    args.out.mkdir(parents=True, exist_ok=True)
    _check_config(args.out / "config.json", _config(args, qset))


def _config(args, qset) -> dict:
    from interp.models.version import __version__

    # the format is recorded with the question set; a dry run never gets here
    skip = {"func", "command", "api_key_env", "judge_api_key_env", "max_retries", "question_format", "dry_run"}
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in skip}
    return {"options": options, "question_set": {"name": qset.name, "version": qset.version,
                                                 "source": qset.source, "sha256": qset.sha256,
                                                 "format": args.question_format},
            "toolkit_version": __version__}


def _check_config(path: Path, config: dict) -> None:
    """A resumed run must sample the same way; the config on disk is then the latest one."""
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise UserError(f"--out {path}: cannot read the earlier run's settings ({err}); use a new folder, "
                            "or delete that file to start over") from None
        _compare_config(path, old if isinstance(old, dict) else {}, config)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _compare_config(path: Path, old: dict, config: dict) -> None:
    # judges may change: their judgements are keyed by judge model and template, the samples are reused
    loose = {"baseline", "traits", "batch_size", "concurrency", "out", "judge_model", "judge_api_base",
             "judge_local", "no_coherence", "dtype", "device", "allow_other_model", "truncate"}
    mismatched = sorted(k for k, v in config["options"].items()
                        if k not in loose and old.get("options", {}).get(k, v) != v)
    if mismatched or old.get("question_set", {}).get("sha256") != config["question_set"]["sha256"]:
        what = ", ".join(mismatched) or "the question file"
        raise UserError(f"--out {path.parent} holds a run with different settings ({what}); "
                        "use a new folder or the same options")


def _run_choice(args, qset, traits):
    import contextlib

    from interp.evaluation.choice import forced_choice

    if args.api_base:
        lm, intervention = _endpoint(args), None
    else:
        lm = _load(args.model, args)
        qset = _fit(lm, qset, args, choice=True)
        intervention = _intervention(args, lm, qset)
    _start(args, qset)
    with intervention() if intervention else contextlib.nullcontext():
        scores = forced_choice(lm, qset, batch_size=args.batch_size, method=args.method, traits=traits)
    return _choice_records(args, qset, scores)


def _run_choice_sweep(args, qset, traits, alphas: list[float]) -> None:
    """Several alphas: one steering sweep, each alpha's result set in its own folder below --out."""
    import copy

    from interp.sweep import SteeringSetting, sweep_forced_choice

    lm = _load(args.model, args)
    qset = _fit(lm, qset, args, choice=True)
    flag = "alpha_rel" if args.alpha_rel is not None else "alpha"
    runs = []
    for value in [1.0, *alphas]:  # the first: the raw alpha of one unit (--alpha-rel is measured once)
        one = copy.copy(args)
        setattr(one, flag, value)
        one.out = args.out / f"{flag.replace('_', '-')}_{value:g}"
        runs.append(one)
    layer, vector, unit = _steering(runs[0], lm, qset)
    for one in runs[1:]:
        _start(one, qset)
    settings = [SteeringSetting(vector, value * unit, str(i)) for i, value in enumerate(alphas)]
    scores = sweep_forced_choice(lm, qset, layer, settings, method=args.method, batch_size=args.batch_size,
                                 traits=traits)
    for i, one in enumerate(runs[1:]):
        _write_outputs(one, _choice_records(one, qset, scores[str(i)]), qset)


def _choice_records(args, qset, scores):
    """The records into --out/samples.jsonl; the summaries per trait."""
    from interp.evaluation.summary import summarize_choice

    with (args.out / "samples.jsonl").open("w") as handle:
        for s in scores:
            handle.write(json.dumps({"type": "choice", "model": args.model, "set": qset.name,
                                     "set_version": qset.version, "trait_id": s.trait_id, "item_id": s.item_id,
                                     "p_expressing": s.p_expressing, "logprobs": list(s.logprobs),
                                     "method": s.method}) + "\n")
    return summarize_choice(scores)


def _run_judge(args, qset, traits):
    from interp.evaluation.runner import SamplingConfig, evaluate

    try:
        config = SamplingConfig(args.samples, args.temperature, args.top_p, args.max_tokens,
                                _parse_seeds(args.seeds), use_coherence=not args.no_coherence)
    except ValueError as err:
        raise UserError(str(err)) from err
    backend = _judge_backend(args)
    sampler, name, qset = _sampler(args, qset)
    _start(args, qset)
    result = evaluate(qset, sampler, backend, args.out, config, model_name=name, traits=traits)
    print(f"sampled {result.sampled} answers, made {result.judged} judgements", file=sys.stderr)
    return result.summaries


def _extra_body(args) -> dict:
    if args.steer:
        raise UserError("--steer needs a local model; to steer a served model pass --model-api-steering")
    return json.loads(args.model_api_steering) if args.model_api_steering else {}


def _endpoint(args):
    """The served model that choice mode scores (--model-api-base)."""
    from interp.evaluation.endpoint import EndpointModel

    return EndpointModel(args.api_base, args.api_model or args.model, args.api_key_env, args.concurrency,
                         args.max_retries, extra_body=_extra_body(args))


def _sampler(args, qset):
    if args.api_base:
        from interp.evaluation.api import OpenAISampler

        model = args.api_model or args.model
        return OpenAISampler(args.api_base, model, args.api_key_env, args.concurrency, args.max_retries,
                             extra_body=_extra_body(args)), model, qset
    if args.vllm:
        from interp.evaluation.sampling import VLLMSampler

        try:
            return VLLMSampler(args.model, **({"dtype": args.dtype} if args.dtype else {})), args.model, qset
        except ImportError as err:
            raise UserError(str(err)) from None
    from interp.evaluation.sampling import LocalSampler

    lm = _load(args.model, args)
    qset = _fit(lm, qset, args, choice=False)
    return LocalSampler(lm, args.batch_size, intervention=_intervention(args, lm, qset)), args.model, qset


def _fit(lm, qset, args, choice: bool):
    """The question set within the model's context: refused, or cut with --truncate."""
    from interp.evaluation.context import ContextError, fit_questions

    try:
        return fit_questions(lm, qset, choice=choice, method=args.method, truncate=args.truncate)
    except ContextError as err:
        raise UserError(f"--questions {err}") from None


def _judge_backend(args):
    if args.judge_local and args.judge_model:
        raise UserError("give either --judge-local or --judge-model, not both")
    if args.judge_local:
        from interp.evaluation.judges import LocalJudgeBackend

        return LocalJudgeBackend(_load(args.judge_local, args), args.batch_size)
    if not (args.judge_model and args.judge_api_base):
        raise UserError("judge mode needs --judge-model and --judge-api-base, or --judge-local MODEL")
    from interp.evaluation.judges import APIJudgeBackend

    return APIJudgeBackend(args.judge_api_base, args.judge_model, args.judge_api_key_env, args.concurrency,
                           args.max_retries)


def _write_outputs(args, summaries, qset) -> None:
    from interp.evaluation.plot import plot_traits
    from interp.evaluation.summary import add_shift, read_summary_csv, write_summary_csv

    runs = {args.out.name or "run": summaries}
    if args.baseline is not None:
        base_csv = args.baseline / "summary.csv"
        if not base_csv.is_file():
            raise UserError(f"--baseline {args.baseline}: no summary.csv there; run interp eval into it first")
        baseline = read_summary_csv(base_csv)
        summaries = add_shift(summaries, baseline)
        runs = {f"baseline ({args.baseline.name})": baseline, args.out.name or "run": summaries}
    write_summary_csv(summaries, args.out / "summary.csv")
    plot_traits(runs, args.out / "summary.png", title=f"{args.model} on {qset.name}")
    print(f"wrote {args.out / 'summary.csv'} and {args.out / 'summary.png'}", file=sys.stderr)
