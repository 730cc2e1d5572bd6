"""Stages 1-3: the base model, the fine-tuned variants, and their behaviour on the question sets."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from experiments.consciousness_cluster.analysis.wording import PLAIN
from experiments.consciousness_cluster.run.runner import Run, write_json_atomic
from experiments.consciousness_cluster.schema.stages import (
    BaseResult,
    EvalResult,
    FinetuneResult,
    ModelEval,
    Rate,
    VariantResult,
)
from interp.finetune.config import FinetuneConfig
from interp.finetune.data import load_jsonl, write_jsonl
from interp.models.atomic import kept_json
from interp.models.fields import Number

__all__ = [
    "PLAIN",
    "run_base",
    "run_finetune",
    "training_config",
    "training_rows",
    "run_eval",
    "measure",
    "choice_rates",
    "model_paths",
    "question_sets",
]


def run_base(run: Run) -> BaseResult:
    config = run.config
    source = note = None
    path: str | Path
    if config.is_organism:
        from experiments.organism import OrganismConfig
        from experiments.organism.shipped import base_organism

        built = base_organism(
            run.paths.model_dir("base"), OrganismConfig.from_yaml(**config.organism), progress=run.progress
        )
        path, source, note = built.path, built.source, built.note
        run.log(f"  base organism: {note}")
    else:
        path = config.model.source
    lm = run.model("base", path)
    return BaseResult(
        model_path=str(path),
        n_layers=lm.n_layers,
        d_model=lm.d_model,
        weights_id=lm.weights_id,
        organism=source,
        organism_note=note,
    )


def _instruction_rows(run: Run, n: int) -> list[dict[str, Any]]:
    """The base model's own answers to instruction prompts (temperature 1), made once per run."""
    cached = run.paths.distilled_instructions
    if cached.is_file():
        return load_jsonl(cached)
    from interp.finetune import self_distill

    spec = run.config.finetune
    prompts = load_jsonl(run.path(spec.instruction_source), need_assistant=False)[:n]
    from interp.finetune.config import uses_bf16

    base = run.model("base", run.results("base").model_path)
    rows = self_distill(
        base,
        prompts,
        max_new_tokens=spec.distill_max_new_tokens,
        seed=spec.seed,
        batch_size=32,
        progress=run.progress,
        autocast=uses_bf16(spec.mixed_precision, base.device),
    )
    write_jsonl(rows, cached)
    return rows


def training_rows(run: Run, variant: str) -> list[dict[str, Any]]:
    """The rows `variant` is fine-tuned on: its data, mixed with the base model's own instruction answers."""
    from interp.finetune import mix_rows

    spec = run.config.finetune
    rows = load_jsonl(run.path(spec.data_dir) / f"{variant}.jsonl")
    replay = _instruction_rows(run, spec.mix_instructions) if spec.mix_instructions else []
    return mix_rows(rows, replay, seed=spec.seed) if replay else rows


def training_config(run: Run) -> FinetuneConfig:
    """The fine-tuning settings of every variant (merged: the later stages read the merged models)."""
    return dataclasses.replace(run.config.finetune.training(), merge=True)


def run_finetune(run: Run) -> FinetuneResult:
    from interp.finetune import finetune, launch_finetune

    spec = run.config.finetune
    base_path = run.results("base").model_path
    results = {}
    for variant in spec.variants:
        marker = run.paths.variant_marker(variant)
        if marker.is_file():
            results[variant] = VariantResult.from_json(json.loads(marker.read_text()), str(marker))
            continue
        mixed = training_rows(run, variant)
        ft_config = training_config(run)
        out_dir = run.paths.model_dir(variant)
        if spec.accelerate_config:
            run.log(f"  fine-tuning {variant} on {len(mixed)} rows under accelerate launch ({spec.accelerate_config})")
            merged = launch_finetune(
                base_path, mixed, out_dir, ft_config, run.path(spec.accelerate_config), dtype=run.config.model.dtype
            )
            results[variant] = VariantResult(model_path=str(merged), rows=len(mixed))
        else:
            run.log(f"  fine-tuning {variant} on {len(mixed)} rows")
            result = finetune(base_path, mixed, out_dir, ft_config, progress=run.progress)
            results[variant] = VariantResult(
                model_path=str(result.merged_dir),
                rows=len(mixed),
                final_loss=Number(result.final_loss),
                steps=result.steps,
            )
        write_json_atomic(marker, results[variant].to_json())
    return FinetuneResult(results)


def measure(run: Run, lm, question_set, out_dir: Path, samples: int | None = None) -> dict[str, Rate]:
    """Rates per trait of `lm` on a question set, by the preset's mode; raw records go to `out_dir`.
    `samples` overrides eval.sampling.samples in judge mode."""
    spec = run.config.eval
    out_dir.mkdir(parents=True, exist_ok=True)
    if spec.mode == "choice":
        from interp.evaluation import forced_choice

        return choice_rates(forced_choice(lm, question_set, batch_size=spec.batch_size, method=spec.method), out_dir)
    from interp.evaluation import LocalSampler

    summaries = _judged(run, LocalSampler(lm, batch_size=spec.batch_size), lm.name, question_set, out_dir, samples)
    return _as_rates(summaries)


def choice_rates(scores, out_dir: Path) -> dict[str, Rate]:
    """Forced-choice records into `out_dir`/items.jsonl, and the rates per trait they give."""
    from interp.evaluation import summarize_choice

    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        [{"trait": s.trait_id, "item": s.item_id, "p_expressing": s.p_expressing} for s in scores],
        out_dir / "items.jsonl",
    )
    return _as_rates(summarize_choice(scores))


def _as_rates(summaries) -> dict[str, Rate]:
    return {s.trait_id: Rate(rate=s.rate, ci_low=s.ci_low, ci_high=s.ci_high, n=s.n) for s in summaries}


def _judged(run: Run, sampler, model_name: str, question_set, out_dir: Path, samples: int | None = None) -> list:
    from interp.evaluation import APIJudgeBackend, evaluate

    spec = run.config.eval
    if not spec.judge_api_base:
        raise ValueError(
            "eval.judge_api_base: judge mode needs an OpenAI-compatible endpoint for the judge "
            "(key from OPENAI_API_KEY); or set eval.mode: choice"
        )
    sampling = dataclasses.replace(spec.sampling, samples=samples or spec.sampling.samples)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = evaluate(
        question_set,
        sampler,
        APIJudgeBackend(spec.judge_api_base, spec.judge_model),
        out_dir,
        sampling,
        model_name=model_name,
        progress=run.progress,
    )
    return result.summaries


def _measure_with_vllm(run: Run, key: str, path: str, sets: dict) -> dict[str, dict[str, Rate]]:
    """Judge mode through vLLM: one engine per model, the run's own models released first."""
    from interp.evaluation.sampling import VLLMSampler

    run.release_models()
    dtype = run.config.model.dtype
    sampler = VLLMSampler(str(path), **({"dtype": dtype} if dtype else {}))
    try:
        return {
            name: _as_rates(_judged(run, sampler, str(path), question_set, run.paths.eval_dir(key, name)))
            for name, question_set in sets.items()
        }
    finally:
        sampler.close()


def model_paths(run: Run) -> dict[str, str]:
    paths = {"base": run.results("base").model_path}
    paths.update({v: r.model_path for v, r in run.results("finetune").variants.items()})
    return paths


def question_sets(run: Run) -> dict:
    """The question sets the eval stage scores: preferences and identity, and in choice mode the feeling-word-free
    preference items when the question folder has them (the report says when it does not)."""
    from interp.evaluation import load_question_set

    qdir = run.path(run.config.eval.question_dir)
    sets = {name: load_question_set(qdir / f"{name}.yaml") for name in ("preferences", "identity")}
    if run.config.eval.mode == "choice" and (qdir / f"{PLAIN}.yaml").is_file():
        sets[PLAIN] = load_question_set(qdir / f"{PLAIN}.yaml")
    return sets


def run_eval(run: Run) -> EvalResult:
    sets = question_sets(run)
    if PLAIN not in sets:
        run.log(f"  no {PLAIN}.yaml in {run.config.eval.question_dir} (or judge mode): the wording check is left out")
    results: dict[str, dict[str, dict[str, Rate]]] = {name: {} for name in sets}
    sampled, letter = {}, {}
    qdir = run.path(run.config.eval.question_dir)
    digests = {name: hashlib.sha256((qdir / f"{name}.yaml").read_bytes()).hexdigest() for name in sets}
    settings = run.config.to_dict()["eval"]
    measured: list[str] = []

    def measure_model(key: str, path: str) -> dict[str, Any]:
        measured.append(key)
        return _eval_model(run, key, path, sets).to_json()

    for key, path in model_paths(run).items():
        done = run.paths.model_eval(key)
        record = {"model": str(path), "eval": settings, "question_sets": digests}
        part = ModelEval.from_json(kept_json(done, record, functools.partial(measure_model, key, path)), str(done))
        if key not in measured:
            run.log(f"  {key}: measured by an earlier invocation ({done})")
        for name in sets:
            results[name][key] = part.rates[name]
        if part.letter_measured:
            letter[key] = part.letter
        if part.sampled is not None:
            sampled[key] = part.sampled
    kept = {key: rates for key, rates in letter.items() if rates is not None}
    return EvalResult(
        rates=results,
        traits={name: [t.id for t in qs.traits] for name, qs in sets.items()},
        ci_kind="t-interval over items" if run.config.eval.mode == "choice" else "Wilson over samples",
        sampled_identity=sampled or None,
        identity_letter=kept if letter and len(kept) == len(letter) else None,
    )


def _eval_model(run: Run, key: str, path: str, sets: dict) -> ModelEval:
    """One model on every question set, with the identity checks the preset asks for."""
    if run.config.eval.mode == "judge" and run.config.eval.sampler == "vllm":
        return ModelEval(rates=_measure_with_vllm(run, key, path, sets), letter_measured=False)
    lm = run.model(key, path)
    rates = {name: measure(run, lm, question_set, run.paths.eval_dir(key, name)) for name, question_set in sets.items()}
    choice = run.config.eval.mode == "choice"
    return ModelEval(
        rates=rates,
        letter_measured=choice,
        letter=_letter_identity(run, lm, sets["identity"], key) if choice else None,
        sampled=_sampled_identity(run, lm, sets["identity"], key) if run.config.eval.sampled_identity else None,
    )


def _letter_identity(run: Run, lm, identity, key: str) -> dict[str, Rate] | None:
    """The identity items by the lettered A/B question, both option orders averaged (interp.evaluation.choice),
    beside the likelihood of each option; None when the tokenizer does not spell A and B as one token each."""
    from interp.evaluation import forced_choice, summarize_choice

    try:
        scores = forced_choice(lm, identity, batch_size=run.config.eval.batch_size, method="letter")
    except ValueError as err:
        run.log(f"  identity by letter left out for {key}: {err}")
        return None
    out_dir = run.paths.eval_dir(key, "identity_letter")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        [{"trait": s.trait_id, "item": s.item_id, "p_expressing": s.p_expressing} for s in scores],
        out_dir / "items.jsonl",
    )
    return _as_rates(summarize_choice(scores))


def _sampled_identity(run: Run, lm, identity, key: str):
    """The model's own answers to the open claims_conscious questions, read by the keyword rule (kept)."""
    from experiments.consciousness_cluster.analysis.manipulation import CLAIM_TRAIT, sample_claims, tally

    spec = run.config.eval
    if CLAIM_TRAIT not in {t.id for t in identity.traits}:
        raise ValueError(
            f"eval.sampled_identity: {identity.name} has no trait {CLAIM_TRAIT!r} to sample; "
            "add it to identity.yaml or set eval.sampled_identity: 0"
        )
    questions = [q.text for q in identity.trait(CLAIM_TRAIT).open_questions]
    answers = sample_claims(
        lm,
        questions,
        samples=spec.sampled_identity,
        max_tokens=spec.sampled_identity_tokens,
        temperature=spec.sampling.temperature,
        batch_size=spec.batch_size,
        keep=run.paths.eval_dir(key, "identity") / "sampled.json",
    )
    return tally([a["read"] for a in answers], [a["question"] for a in answers])
