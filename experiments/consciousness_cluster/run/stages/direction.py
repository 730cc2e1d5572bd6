"""Stages 4-6: cache contrast activations, find the direction, steer and ablate (stage 7, the links: `links`)."""

from __future__ import annotations

import torch

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import choice_rates, measure, model_paths
from experiments.consciousness_cluster.schema.stages import (
    CachedFile,
    CacheResult,
    DirectionFile,
    DirectionsResult,
    ProbeResult,
    SteeringControls,
    SteeringResult,
)
from interp.finetune.data import load_jsonl
from interp.models import Direction
from interp.models.atomic import kept_json, kept_json_many

__all__ = ["contrast_examples", "run_cache", "run_directions", "run_steering"]


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
            examples.append(Example(messages=source["messages"][:1], response=source["messages"][1]["content"],
                                    label=label, id=f"{i}-{label}", group=i))
    return examples


def _prompt_examples(run: Run) -> list:
    """The preference questions the eval stage scored, as chat prompts with their ids: the forced-choice
    items in choice mode, the open questions in judge mode (for activation shifts and response links)."""
    from activations import Example
    from interp.evaluation import load_question_set

    question_set = load_question_set(run.path(run.config.eval.question_dir) / "preferences.yaml")
    if run.config.eval.mode == "judge":
        return [Example(messages=[{"role": "user", "content": q.text}], id=q.id) for q in question_set.open_questions]
    return [Example(messages=[{"role": "user", "content": item.question}], id=item.id)
            for item in question_set.choice_items]


def run_cache(run: Run) -> CacheResult:
    from activations import CacheConfig, cache_activations

    spec = run.config.direction
    base = run.model("base", run.results("base").model_path)
    contrast = CacheConfig(layers=spec.layers, positions=spec.positions, dtype=spec.dtype)
    files = {}
    for name, positive in (("consciousness", "conscious_claiming"), ("toaster", "toaster")):
        result = cache_activations(base, contrast_examples(run.path(run.config.finetune.data_dir), positive,
                                                           "non_conscious"),
                                   run.paths.acts(name), contrast, progress=run.progress)
        files[name] = CachedFile(path=str(result.path), rows=result.n_rows)
    prompts = CacheConfig(layers=spec.layers, positions="last", dtype="float32")
    for key, path in model_paths(run).items():
        result = cache_activations(run.model(key, path), _prompt_examples(run), run.paths.acts(f"prompts_{key}"),
                                   prompts, progress=run.progress)
        files[f"prompts_{key}"] = CachedFile(path=str(result.path), rows=result.n_rows)
    return CacheResult(files)


def run_directions(run: Run) -> DirectionsResult:
    from probes import SweepConfig, direction_from_store, sweep_store
    from probes.store import list_layers

    files = run.results("cache")
    sweep = sweep_store(files.files["consciousness"].path, config=SweepConfig(seed=run.config.steering.seed))
    sweep.save(run.paths.sweep)
    probe = ProbeResult(layers=[s.layer for s in sweep.scores], auroc=[s.auroc for s in sweep.scores],
                        accuracy=[s.accuracy for s in sweep.scores], chosen_layer=sweep.chosen_layer, rule=sweep.rule)
    directions = {}
    for name in ("consciousness", "toaster"):
        store = files.files[name].path
        direction = direction_from_store(store, list_layers(store), method=run.config.direction.method)
        path = run.paths.direction(name)
        direction.save(path)
        directions[name] = DirectionFile(path=str(path), layers=list(direction.layers), norms=list(direction.norms))
    return DirectionsResult(probe, directions)


def _direction(run: Run, name: str) -> Direction:
    return Direction.load(run.results("directions").directions[name].path)


def _sets(run: Run):
    from interp.evaluation import load_question_set

    qdir = run.path(run.config.eval.question_dir)
    return load_question_set(qdir / "preferences.yaml"), load_question_set(qdir / "identity.yaml")


def _rates(run: Run, lm, question_set, name: str, key: dict, within) -> dict[str, float]:
    """Rates per trait of `lm` under the intervention `within()`, records in the measurement's folder; kept
    with `key`, so a rerun of a killed stage reads back what it had finished."""
    def compute():
        with within():
            return {t: r.rate for t, r in measure(run, lm, question_set, run.paths.steering_dir(name),
                                                  samples=run.config.steering.samples).items()}

    kept = kept_json(run.paths.steering_kept(name), key, compute)
    return {t.id: kept[t.id] for t in question_set.traits if t.id in kept}  # in the set's order, as measured


def _steered_rates(run: Run, lm, question_set, layer: int, jobs: dict[str, tuple]) -> dict[str, dict[str, float]]:
    """Rates per trait of `lm` steered at `layer` by each job (name -> (vector, raw alpha, key)), by name, records
    in each job's measurement folder. Each is kept with its key, so a rerun of a killed stage reads back what
    it had finished. Choice mode measures the jobs not kept in one steering sweep (the blocks below the layer
    run once for all of them); judge mode one steered run each."""
    from interp import steer

    def compute(names: list[str]) -> dict[str, dict[str, float]]:
        if run.config.eval.mode != "choice":  # judged samples: each kept as it finishes (the judge is slow)
            return {name: _rates(run, lm, question_set, name, jobs[name][2],
                                 lambda name=name: steer(lm, jobs[name][0], layer=layer, alpha=jobs[name][1]))
                    for name in names}
        from interp.sweep import SteeringSetting, sweep_forced_choice

        scores = sweep_forced_choice(lm, question_set, layer, [SteeringSetting(*jobs[n][:2], n) for n in names],
                                     batch_size=run.config.eval.batch_size, progress=run.progress)
        return {name: {t: r.rate for t, r in choice_rates(scores[name], run.paths.steering_dir(name)).items()}
                for name in names}

    kept = kept_json_many({name: (run.paths.steering_kept(name), job[2]) for name, job in jobs.items()}, compute)
    return {name: {t.id: rates[t.id] for t in question_set.traits if t.id in rates} for name, rates in kept.items()}


def _ablation(run: Run, direction: Direction, prefs, generator) -> dict[str, dict[str, float]]:
    """Preferences of the conscious-claiming model with the direction projected out of every layer,
    and with random directions projected out instead (the control)."""
    from interp import ablate

    conscious = run.model("conscious_claiming", model_paths(run)["conscious_claiming"])

    def ablated_rates(vectors, name):
        # row i at direction.layers[i]; the base model's direction goes into the fine-tuned model on
        # purpose, so its rows are passed bare rather than as a Direction checked against the model
        key = {"model": "conscious_claiming", "layers": list(direction.layers),
               "norms": [float(n) for n in vectors.norm(dim=-1)]}
        return _rates(run, conscious, prefs, name, key, lambda: ablate(conscious, vectors, layers=direction.layers))

    ablated = ablated_rates(direction.vectors, "ablated")
    randoms = [ablated_rates(torch.randn(direction.vectors.shape, generator=generator), f"ablated_random_{i:02d}")
               for i in range(run.config.steering.n_random)]
    return {"ablated": ablated, "ablated_random_mean": {t: sum(r[t] for r in randoms) / len(randoms)
                                                        for t in ablated}}


def _coherence_chats(prefs, identity, n: int) -> list[list[dict[str, str]]]:
    """`n` open questions spread evenly over the identity and preference sets."""
    questions = [q.text for q in identity.open_questions + prefs.open_questions]
    step = max(1, len(questions) // n) if n else 1
    return [[{"role": "user", "content": text}] for text in questions[::step][:n]]


def _steering_layer(run: Run, base, direction: Direction, identity, scale_prompts: list[str]):
    """The layer to steer at and, when asked for or needed, the claim's steering effect at every layer."""
    from experiments.consciousness_cluster.analysis.steering_checks import layer_curve

    spec = run.config.steering
    curve = None
    if spec.layer_curve or (spec.layer is None and spec.layer_by == "effect"):
        layers = [layer for layer in direction.layers if 0 <= layer < base.n_layers]
        curve = layer_curve(base, direction, layers, identity, alpha=abs(spec.link_alpha),
                            scale_prompts=scale_prompts, seed=spec.seed, batch_size=run.config.eval.batch_size,
                            progress=run.progress, relative=spec.alpha_rel,
                            keep=run.paths.steering_kept("layer_curve"))
    if spec.layer is not None:
        layer = spec.layer
    elif spec.layer_by == "effect":
        layer = curve.chosen
    else:
        layer = run.results("directions").probe.chosen_layer
    return base.resolve_layer(layer), curve


def _specificity(traits, zero, shifted, toaster, random_rates):
    from probes.specificity import steering_specificity

    return steering_specificity(traits, [shifted[t] - zero[t] for t in traits], [toaster[t] - zero[t] for t in traits],
                                [[r[t] - zero[t] for t in traits] for r in random_rates])


def run_steering(run: Run) -> SteeringResult:
    from experiments.consciousness_cluster.analysis.steering_checks import coherence_sweep, control_vectors
    from interp.steering import relative_alpha

    spec = run.config.steering
    prefs, identity = _sets(run)
    base = run.model("base", run.results("base").model_path)
    direction = _direction(run, "consciousness")
    # Relative alphas are in units of the layer's mean residual norm over the questions.
    scale_prompts = [base.render_chat([{"role": "user", "content": item.question}]) for item in prefs.choice_items]
    layer, curve = _steering_layer(run, base, direction, identity, scale_prompts)
    v = direction.for_model(base, layer)
    scale = relative_alpha(base, v, layer, scale_prompts) if spec.alpha_rel else 1.0

    def job(vector, alpha):  # (vector, raw alpha, the key its rates are kept with)
        return vector, alpha * scale, {"layer": layer, "alpha": float(alpha), "raw_alpha": float(alpha * scale),
                                       "norm": float(vector.norm())}

    generator = torch.Generator().manual_seed(spec.seed)
    controls = control_vectors(v, _direction(run, "toaster").for_model(base, layer), spec.n_random, generator,
                               orthogonalized=spec.orthogonalized)
    # the alphas and every control in one sweep over the preferences, the alphas in one over the identity items
    rates = _steered_rates(run, base, prefs, layer, {**{f"alpha_{a:g}": job(v, a) for a in spec.alphas},
                                                     **{name: job(c, spec.link_alpha) for name, c in controls.items()}})
    identity_rates = _steered_rates(run, base, identity, layer,
                                    {f"identity_alpha_{a:g}": job(v, a) for a in spec.alphas})
    by_alpha = {float(a): rates[f"alpha_{a:g}"] for a in spec.alphas}
    identity_by_alpha = {float(a): identity_rates[f"identity_alpha_{a:g}"] for a in spec.alphas}
    toaster, orthogonalized = rates["toaster"], rates.get("orthogonalized")
    random_rates = [rates[name] for name in controls if name.startswith("random_")]
    traits = list(by_alpha[float(spec.alphas[0])])
    zero = by_alpha[0.0]
    coherence = None
    if spec.coherence_prompts:
        coherence = coherence_sweep(base, v, layer, list(spec.alphas), scale,
                                    _coherence_chats(prefs, identity, spec.coherence_prompts),
                                    max_tokens=spec.coherence_tokens, keep=run.paths.steering_kept("coherence"))
    return SteeringResult(
        layer=layer, alphas=list(spec.alphas), rates=by_alpha, identity_rates=identity_by_alpha,
        direction_norm=float(v.norm()), alpha_rel=spec.alpha_rel, alpha_scale=scale, control_alpha=spec.link_alpha,
        controls=SteeringControls(toaster=toaster, random_mean={k: sum(r[k] for r in random_rates) / len(random_rates)
                                                                for k in traits}, orthogonalized=orthogonalized),
        layer_curve=curve, coherence=coherence,
        specificity=_specificity(traits, zero, by_alpha[spec.link_alpha], toaster, random_rates),
        orthogonalized_specificity=(None if orthogonalized is None
                                    else _specificity(traits, zero, orthogonalized, toaster, random_rates)),
        random=random_rates, **_ablation(run, direction, prefs, generator))
