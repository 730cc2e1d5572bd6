"""Stage 6: steer the base model along the direction, with its controls and nulls, and ablate it in the
conscious-claiming model (`ablation`).

Every measurement is kept as it finishes (`RunPaths.steering_kept`), so a rerun of a killed stage reads back
what it had finished. In choice mode every steered setting of a question set runs in one steering sweep
(`interp.sweep`): the alphas along the direction, and at the control alpha the toaster direction, the isotropic
random null, the label-shuffled and covariance nulls (`analysis.steering_nulls`) and the two half directions.
"""

from __future__ import annotations

from typing import Any

import torch

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import choice_rates
from experiments.consciousness_cluster.run.stages.kept import kept_rates
from experiments.consciousness_cluster.schema.stages import SteeringControls, SteeringResult
from interp.models import Direction
from interp.models.atomic import kept_json_many
from interp.models.fields import Number

__all__ = ["NULL_KINDS", "direction_of", "read_alpha", "run_steering", "steered_rates", "steering_sets"]

NULL_KINDS = ("random", "label_shuffled", "covariance")
"""The nulls of directions drawn at the direction's norm, each tested on its own (`probes.specificity.null_test`)."""


def direction_of(run: Run, name: str) -> Direction:
    return Direction.load(run.results("directions").directions[name].path)


def steering_sets(run: Run):
    from interp.evaluation import load_question_set

    qdir = run.path(run.config.eval.question_dir)
    return load_question_set(qdir / "preferences.yaml"), load_question_set(qdir / "identity.yaml")


SWEEP_CHUNK = 32
"""Steering settings a sweep measures before keeping them: a stage killed halfway through a long null (hundreds
of directions on a real model) loses one chunk at most, for one more pass of the blocks below the layer a chunk."""


def steered_rates(
    run: Run, lm, question_set, layer: int, jobs: dict[str, tuple[Any, float, dict[str, Any]]]
) -> dict[str, dict[str, Number]]:
    """Rates per trait of `lm` steered at `layer` by each job (name -> (vector, raw alpha, key)), by name, records
    in each job's measurement folder. Each is kept with its key. Choice mode measures the jobs not kept in one
    steering sweep (the blocks below the layer run once for all of them); judge mode one steered run each."""
    from interp import steer

    def compute(names: list[str]) -> dict[str, dict[str, Number]]:
        if run.config.eval.mode != "choice":  # judged samples: each kept as it finishes (the judge is slow)
            return {
                name: kept_rates(
                    run,
                    lm,
                    question_set,
                    name,
                    jobs[name][2],
                    lambda name=name: steer(lm, jobs[name][0], layer=layer, alpha=jobs[name][1]),
                )
                for name in names
            }
        from interp.sweep import SteeringSetting, sweep_forced_choice

        scores = sweep_forced_choice(
            lm,
            question_set,
            layer,
            [SteeringSetting(*jobs[n][:2], n) for n in names],
            batch_size=run.config.eval.batch_size,
            method=run.config.eval.method,
            progress=run.progress,
        )
        return {
            name: {t: r.rate for t, r in choice_rates(scores[name], run.paths.steering_dir(name)).items()}
            for name in names
        }

    entries = {name: (run.paths.steering_kept(name), job[2]) for name, job in jobs.items()}
    kept = kept_json_many(entries, compute, chunk=SWEEP_CHUNK)
    return {name: {t.id: rates[t.id] for t in question_set.traits if t.id in rates} for name, rates in kept.items()}


def _coherence_chats(prefs, identity, n: int) -> list[list[dict[str, str]]]:
    """`n` open questions spread evenly over the identity and preference sets."""
    questions = [q.text for q in identity.open_questions + prefs.open_questions]
    step = max(1, len(questions) // n) if n else 1
    return [[{"role": "user", "content": text}] for text in questions[::step][:n]]


def _steering_layer(run: Run, base, direction: Direction, identity, prefs, scale_prompts: list[str]):
    """The layer to steer at and, when asked for or needed, the claim's steering effect at every layer (over
    the (layer x alpha) grid, with each cell's coherence where the preset asks)."""
    from activations.layers import parse_layers
    from experiments.consciousness_cluster.analysis.steering_checks import layer_curve

    spec, rule = run.config.steering, run.config.analysis.layer_rule
    curve = None
    if spec.layer_curve or (spec.layer is None and spec.layer_by == "effect"):
        wanted = (
            direction.layers
            if spec.layer_curve_layers is None
            else parse_layers(spec.layer_curve_layers, base.n_layers)
        )
        layers = [layer for layer in direction.layers if 0 <= layer < base.n_layers and layer in wanted]
        chats = _coherence_chats(prefs, identity, spec.layer_curve_coherence) if spec.layer_curve_coherence else None
        curve = layer_curve(
            base,
            direction,
            layers,
            identity,
            alpha=abs(spec.link_alpha),
            scale_prompts=scale_prompts,
            seed=spec.seed,
            batch_size=run.config.eval.batch_size,
            progress=run.progress,
            relative=spec.alpha_rel,
            keep=run.paths.steering_kept("layer_curve"),
            grid=spec.layer_curve_alphas,
            coherence_chats=chats,
            coherence_tokens=spec.coherence_tokens,
            rule="effect_coherent" if rule == "effect_coherent" else "effect",
            first_token=spec.norm_first_token,
        )
    if spec.layer is not None:
        layer = spec.layer
    elif spec.layer_by == "effect":
        if curve is None:  # measured above whenever the layer is chosen by effect
            raise ValueError("steering.layer_by effect needs the layer curve, which was not measured")
        layer = curve.chosen
    else:
        layer = run.results("directions").probe.chosen_layer
    return base.resolve_layer(layer), curve


def read_alpha(alphas: list[float], link_alpha: float, rule: str, coherence) -> float:
    """The alpha whose effects are read: `link_alpha` ("preset"), or ("largest_coherent") the largest alpha of
    the link alpha's sign up to which every alpha from 0 stays coherent (none coherent: the smallest of that
    sign, whose incoherence the report then shows)."""
    if rule == "preset":
        return link_alpha
    sign = 1.0 if link_alpha >= 0 else -1.0
    side = sorted((a for a in alphas if a * sign > 0), key=abs)
    coherent = {p.alpha: p.coherent for p in coherence}
    chosen = side[0]
    for a in side:
        if not coherent.get(a, False):
            break
        chosen = a
    return chosen


def _null_vectors(
    run: Run, base, v: torch.Tensor, layer: int, generator
) -> tuple[dict[str, torch.Tensor], list[int] | None]:
    """The controls and nulls steered at the control alpha, all at the norm of `v`, by name; and the number of
    questions in each half of the half directions (None without them)."""
    from experiments.consciousness_cluster.analysis import steering_nulls as nulls
    from experiments.consciousness_cluster.analysis.steering_checks import control_vectors

    spec, method = run.config.steering, run.config.direction.method
    vectors = control_vectors(
        v,
        direction_of(run, "toaster").for_model(base, layer),
        spec.n_random,
        generator,
        orthogonalized=spec.orthogonalized,
    )
    files = run.results("cache").files
    rows = nulls.contrast_rows(files["consciousness"].path, layer)
    norm = float(v.norm())
    drawn = {
        "label_shuffled": nulls.label_shuffled_null(rows, method, spec.n_label_shuffled, spec.seed, norm),
        "covariance": nulls.covariance_null(rows, spec.n_covariance, spec.seed, norm),
    }
    for kind, draws in drawn.items():
        vectors.update((f"{kind}_{i:02d}", torch.from_numpy(row)) for i, row in enumerate(draws))
    if not spec.toaster_half:
        return vectors, None
    halves = nulls.half_directions(rows, nulls.contrast_rows(files["toaster"].path, layer), method, spec.seed, norm)
    vectors["half_consciousness"] = torch.from_numpy(halves.consciousness)
    vectors["half_toaster"] = torch.from_numpy(halves.toaster)
    return vectors, [len(halves.first), len(halves.second)]


def _items(run: Run, name: str) -> dict[str, tuple[str, float]]:
    """item -> (trait, p(expressing)) of a steered measurement (choice mode's items.jsonl)."""
    import json

    rows = (run.paths.steering_dir(name) / "items.jsonl").read_text().splitlines()
    return {r["item"]: (r["trait"], r["p_expressing"]) for r in map(json.loads, rows)}


def _answer_checks(
    run: Run, base, layer: int, alphas: dict[str, tuple], controls: dict[str, tuple], prefs, identity
) -> dict:
    """The steered answers' coherence for each control, and the claims of the answers per alpha and control."""
    from experiments.consciousness_cluster.analysis.manipulation import CLAIM_TRAIT
    from experiments.consciousness_cluster.analysis.steered_answers import settings_coherence, steered_claims

    spec, ev = run.config.steering, run.config.eval
    out: dict[str, Any] = {}  # SteeringResult's fields of the answers
    if spec.coherence_prompts and controls:
        out["control_coherence"] = settings_coherence(
            base,
            layer,
            controls,
            _coherence_chats(prefs, identity, spec.coherence_prompts),
            max_tokens=spec.coherence_tokens,
            keep=run.paths.steering_kept("control_coherence"),
        )
    if ev.mode == "choice" and CLAIM_TRAIT in {t.id for t in identity.traits}:
        questions = [q.text for q in identity.trait(CLAIM_TRAIT).open_questions]
        claims = steered_claims(
            base,
            layer,
            {**alphas, **controls},
            questions,
            samples=ev.sampled_identity,
            temperature=ev.sampling.temperature,
            max_tokens=ev.sampled_identity_tokens,
            batch_size=ev.batch_size,
            keep=run.paths.steering_kept("claims"),
        )
        out["claims"] = {float(name.removeprefix("alpha_")): claims[name] for name in alphas}
        out["control_claims"] = {name: claims[name] for name in controls}
    return out


def _checked_subset(vectors: dict, k: int | None) -> list[str]:
    """The controls whose answers are read: toaster, orthogonalized and the half directions, and the first `k`
    of each null kind (all when None)."""
    names = []
    for name in vectors:
        kind, _, index = name.rpartition("_")
        if kind in NULL_KINDS and index.isdigit():
            if k is None or int(index) < k:
                names.append(name)
        else:
            names.append(name)
    return names


def run_steering(run: Run) -> SteeringResult:
    from experiments.consciousness_cluster.analysis.steering_checks import coherence_sweep
    from experiments.consciousness_cluster.analysis.steering_tests import half_comparison, null_tests
    from experiments.consciousness_cluster.run.stages.ablation import run_ablation
    from interp.steering import relative_alpha

    spec, a = run.config.steering, run.config.analysis
    prefs, identity = steering_sets(run)
    base = run.model("base", run.results("base").model_path)
    direction = direction_of(run, "consciousness")
    # Relative alphas are in units of the layer's mean residual norm over the questions.
    scale_prompts = [base.render_chat([{"role": "user", "content": item.question}]) for item in prefs.choice_items]
    layer, curve = _steering_layer(run, base, direction, identity, prefs, scale_prompts)
    v = direction.for_model(base, layer)
    scale = relative_alpha(base, v, layer, scale_prompts, first_token=spec.norm_first_token) if spec.alpha_rel else 1.0
    coherence = None
    if spec.coherence_prompts:
        coherence = coherence_sweep(
            base,
            v,
            layer,
            list(spec.alphas),
            scale,
            _coherence_chats(prefs, identity, spec.coherence_prompts),
            max_tokens=spec.coherence_tokens,
            keep=run.paths.steering_kept("coherence"),
        )
    control_alpha = read_alpha(list(spec.alphas), spec.link_alpha, a.alpha_rule, coherence)

    def job(vector, alpha):  # (vector, raw alpha, the key its rates are kept with)
        return (
            vector,
            alpha * scale,
            {
                "layer": layer,
                "alpha": float(alpha),
                "raw_alpha": float(alpha * scale),
                "norm": float(vector.norm()),
                "sum": round(float(vector.sum()), 4),
                "seed": spec.seed,
            },
        )

    vectors, half_questions = _null_vectors(run, base, v, layer, torch.Generator().manual_seed(spec.seed))
    alphas = {f"alpha_{x:g}": job(v, x) for x in spec.alphas}
    controls = {name: job(c, control_alpha) for name, c in vectors.items()}
    # the alphas and every control in one sweep over the preferences; the same over the identity items
    rates = steered_rates(run, base, prefs, layer, {**alphas, **controls})
    identity_rates = steered_rates(
        run, base, identity, layer, {f"identity_{name}": j for name, j in {**alphas, **controls}.items()}
    )
    by_alpha = {float(x): rates[f"alpha_{x:g}"] for x in spec.alphas}
    identity_by_alpha = {float(x): identity_rates[f"identity_alpha_{x:g}"] for x in spec.alphas}
    traits, zero = list(by_alpha[float(spec.alphas[0])]), by_alpha[0.0]
    drawn = {kind: [rates[n] for n in vectors if n.rpartition("_")[0] == kind] for kind in NULL_KINDS}
    alternative = a.specificity_alternative
    half = None
    if half_questions is not None:
        items = (
            (_items(run, "half_consciousness"), _items(run, "half_toaster"))
            if run.config.eval.mode == "choice"
            else None
        )
        half = half_comparison(
            traits,
            zero,
            rates["half_consciousness"],
            rates["half_toaster"],
            items,
            alternative=alternative,
            alpha=a.alpha,
            n_questions=half_questions,
        )
    checked = _checked_subset(vectors, spec.coherence_random)
    answers = _answer_checks(
        run, base, layer, {n: j[:2] for n, j in alphas.items()}, {n: controls[n][:2] for n in checked}, prefs, identity
    )
    return SteeringResult(
        layer=layer,
        alphas=list(spec.alphas),
        rates=by_alpha,
        identity_rates=identity_by_alpha,
        direction_norm=float(v.norm()),
        alpha_rel=spec.alpha_rel,
        alpha_scale=scale,
        control_alpha=control_alpha,
        controls=_controls(rates, traits, drawn["random"]),
        layer_curve=curve,
        coherence=coherence,
        specificity=_specificity(traits, zero, by_alpha[control_alpha], rates["toaster"], drawn["random"]),
        orthogonalized_specificity=(
            None
            if "orthogonalized" not in rates
            else _specificity(traits, zero, rates["orthogonalized"], rates["toaster"], drawn["random"])
        ),
        nulls=null_tests(traits, zero, by_alpha[control_alpha], drawn, alternative=alternative, alpha=a.alpha),
        toaster_half=half,
        identity_controls=_controls(
            identity_rates,
            list(identity_by_alpha[0.0]),
            [identity_rates[f"identity_{n}"] for n in vectors if n.startswith("random_")],
            prefix="identity_",
        ),
        identity_measure=a.identity_measure,
        alpha_rule=a.alpha_rule,
        norm_first_token=spec.norm_first_token if spec.alpha_rel else None,
        **answers,
        random=drawn["random"],
        null_rates={k: r for k, r in drawn.items() if k != "random" and r},
        **run_ablation(run, direction, prefs, identity),
    )


def _controls(rates: dict, traits: list[str], randoms: list[dict], prefix: str = "") -> SteeringControls:
    return SteeringControls(
        toaster=rates[f"{prefix}toaster"],
        random_mean={k: sum(r[k] for r in randoms) / len(randoms) for k in traits},
        orthogonalized=rates.get(f"{prefix}orthogonalized"),
    )


def _specificity(traits, zero, shifted, toaster, random_rates):
    from probes.specificity import steering_specificity

    return steering_specificity(
        traits,
        [shifted[t] - zero[t] for t in traits],
        [toaster[t] - zero[t] for t in traits],
        [[r[t] - zero[t] for t in traits] for r in random_rates],
    )
