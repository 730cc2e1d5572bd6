"""Stages 4-5: cache contrast activations and find the direction (stage 6, steering and ablation: `steering`;
stage 7, the links: `links`)."""

from __future__ import annotations

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import model_paths
from experiments.consciousness_cluster.schema.stages import (
    CachedFile,
    CacheResult,
    DirectionFile,
    DirectionsResult,
    ProbeResult,
)
from interp.finetune.data import load_jsonl
from interp.models.fields import Number

__all__ = ["contrast_examples", "run_cache", "run_directions"]


def contrast_examples(data_dir, positive: str, negative: str) -> list:
    """Same prompt, two teacher-forced answers: `positive` rows labelled 1, `negative` rows 0, from
    DATA_DIR/{positive,negative}.jsonl.

    Pairs whose two answers are the same text (e.g. "I am an AI" in both sets) carry no contrast
    and are left out: their rows would be identical and only cap every probe's AUROC.
    """
    from pathlib import Path

    from activations import Example

    data_dir = Path(data_dir)
    neg_by_prompt = {row["messages"][0]["content"]: row for row in load_jsonl(data_dir / f"{negative}.jsonl")}
    examples = []
    for i, row in enumerate(load_jsonl(data_dir / f"{positive}.jsonl")):
        other = neg_by_prompt.get(row["messages"][0]["content"])
        if other is None or other["messages"][1]["content"] == row["messages"][1]["content"]:
            continue
        for label, source in ((1, row), (0, other)):
            examples.append(
                Example(
                    messages=source["messages"][:1],
                    response=source["messages"][1]["content"],
                    label=label,
                    id=f"{i}-{label}",
                    group=i,
                )
            )
    return examples


def _prompt_examples(run: Run) -> list:
    """The preference questions the eval stage scored, as chat prompts with their ids: the forced-choice
    items in choice mode, the open questions in judge mode (for activation shifts and response links)."""
    from activations import Example
    from interp.evaluation import load_question_set

    question_set = load_question_set(run.path(run.config.eval.question_dir) / "preferences.yaml")
    if run.config.eval.mode == "judge":
        return [Example(messages=[{"role": "user", "content": q.text}], id=q.id) for q in question_set.open_questions]
    return [
        Example(messages=[{"role": "user", "content": item.question}], id=item.id) for item in question_set.choice_items
    ]


def run_cache(run: Run) -> CacheResult:
    from dataclasses import replace

    from activations import cache_activations

    spec = run.config.direction
    base = run.model("base", run.results("base").model_path)
    contrast = spec.cache
    files = {}
    for name, positive in (("consciousness", "conscious_claiming"), ("toaster", "toaster")):
        result = cache_activations(
            base,
            contrast_examples(run.path(run.config.finetune.data_dir), positive, "non_conscious"),
            run.paths.acts(name),
            contrast,
            progress=run.progress,
        )
        files[name] = CachedFile(path=str(result.path), rows=result.n_rows)
    prompts = replace(spec.cache, positions="last", dtype="float32")
    for key, path in model_paths(run).items():
        result = cache_activations(
            run.model(key, path),
            _prompt_examples(run),
            run.paths.acts(f"prompts_{key}"),
            prompts,
            progress=run.progress,
        )
        files[f"prompts_{key}"] = CachedFile(path=str(result.path), rows=result.n_rows)
    return CacheResult(files)


def run_directions(run: Run) -> DirectionsResult:
    from probes import SweepConfig, direction_from_store, sweep_store
    from probes.store import list_layers

    files = run.results("cache")
    sweep = sweep_store(files.files["consciousness"].path, config=SweepConfig(seed=run.config.steering.seed))
    sweep.save(run.paths.sweep)
    probe = ProbeResult(
        layers=[s.layer for s in sweep.scores],
        auroc=[Number(s.auroc) for s in sweep.scores],
        accuracy=[Number(s.accuracy) for s in sweep.scores],
        chosen_layer=sweep.chosen_layer,
        rule=sweep.rule,
    )
    directions = {}
    for name in ("consciousness", "toaster"):
        store = files.files[name].path
        direction = direction_from_store(store, list_layers(store), method=run.config.direction.method)
        path = run.paths.direction(name)
        direction.save(path)
        directions[name] = DirectionFile(path=str(path), layers=list(direction.layers), norms=list(direction.norms))
    return DirectionsResult(probe, directions)
