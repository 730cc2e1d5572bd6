"""Stages 1-3: the base model, the fine-tuned variants, and their behaviour on the question sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.consciousness_cluster.runner import Run, write_json_atomic

__all__ = ["run_base", "run_finetune", "run_eval", "score_traits", "read_jsonl"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_base(run: Run) -> dict[str, Any]:
    config = run.config
    if config.is_organism:
        from experiments.organism import OrganismConfig, build_organism

        organism_config = OrganismConfig.from_overrides(config.organism)
        path = build_organism(run.out / "models" / "base", organism_config, progress=run.progress)
    else:
        path = config.model.source
    lm = run.model("base", path)
    return {"model_path": str(path), "n_layers": lm.n_layers, "d_model": lm.d_model, "weights_id": lm.weights_id}


def _instruction_rows(run: Run, n: int) -> list[dict[str, Any]]:
    """The base model's own answers to instruction prompts (temperature 1), made once per run."""
    cached = run.out / "data" / "instructions_distilled.jsonl"
    if cached.is_file():
        return read_jsonl(cached)
    from interp.finetune import self_distill

    spec = run.config.finetune
    prompts = [row["messages"] if "messages" in row else [{"role": "user", "content": row["prompt"]}]
               for row in read_jsonl(run.path(spec.instruction_source))][:n]
    rows = self_distill(run.model("base", run.results("base")["model_path"]), prompts, seed=spec.seed)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
    tmp.replace(cached)
    return rows


def run_finetune(run: Run) -> dict[str, Any]:
    from interp.finetune import FinetuneConfig, finetune, mix_rows

    spec = run.config.finetune
    base_path = run.results("base")["model_path"]
    replay = _instruction_rows(run, spec.mix_instructions) if spec.mix_instructions else []
    results = {}
    for variant in spec.variants:
        marker = run.out / "models" / variant / "variant.json"
        if marker.is_file():
            results[variant] = json.loads(marker.read_text())
            continue
        rows = read_jsonl(run.path(spec.data_dir) / f"{variant}.jsonl")
        mixed = mix_rows(rows, replay, seed=spec.seed) if replay else rows
        ft_config = FinetuneConfig(method=spec.method, learning_rate=spec.learning_rate, epochs=spec.epochs,
                                   batch_size=spec.batch_size, lora_rank=spec.lora_rank, lora_alpha=spec.lora_alpha,
                                   max_length=spec.max_length, seed=spec.seed, merge=True)
        run.log(f"  fine-tuning {variant} on {len(mixed)} rows")
        result = finetune(base_path, mixed, run.out / "models" / variant, ft_config, progress=run.progress)
        results[variant] = {"model_path": str(result.merged_dir), "final_loss": result.final_loss,
                            "steps": result.steps, "rows": len(mixed)}
        write_json_atomic(marker, results[variant])
    return results


def score_traits(lm, question_set, batch_size: int) -> tuple[dict[str, dict[str, float]], list]:
    """Forced-choice rates per trait (mean p, with interval) and the per-item scores."""
    from interp.evaluation import forced_choice, summarize_choice

    scores = forced_choice(lm, question_set, batch_size=batch_size)
    rates = {s.trait: {"rate": s.rate, "ci_low": s.ci_low, "ci_high": s.ci_high, "n": s.n}
             for s in summarize_choice(scores)}
    return rates, scores


def model_paths(run: Run) -> dict[str, str]:
    paths = {"base": run.results("base")["model_path"]}
    paths.update({v: r["model_path"] for v, r in run.results("finetune").items()})
    return paths


def run_eval(run: Run) -> dict[str, Any]:
    from interp.evaluation import load_question_set

    spec = run.config.eval
    if spec.mode != "choice":
        return _run_judge_eval(run)
    qdir = run.path(spec.question_dir)
    sets = {name: load_question_set(qdir / f"{name}.yaml") for name in ("preferences", "identity")}
    results: dict[str, Any] = {name: {} for name in sets}
    for key, path in model_paths(run).items():
        lm = run.model(key, path)
        for name, question_set in sets.items():
            rates, scores = score_traits(lm, question_set, spec.batch_size)
            results[name][key] = rates
            dump = run.out / "eval" / key / f"{name}_items.jsonl"
            dump.parent.mkdir(parents=True, exist_ok=True)
            dump.write_text("".join(json.dumps(_item_record(s)) + "\n" for s in scores))
    results["traits"] = {name: [t.id for t in qs.traits] for name, qs in sets.items()}
    results["ci_kind"] = "per-item"
    return results


def _item_record(score) -> dict[str, Any]:
    return {"trait": score.trait, "item": score.item_id, "p_expressing": score.p_expressing}


def _run_judge_eval(run: Run) -> dict[str, Any]:
    raise NotImplementedError("judge-mode replication")
