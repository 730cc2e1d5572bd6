"""The consciousness direction's steering checks on a base model alone, without the fine-tunes.

    python -m experiments.consciousness_cluster.studies.direction_checks --preset smollm2-135m --out runs/smollm2-checks

On the preset's base model (or `--model`): the teacher-forced contrasts of the preset's datasets
(conscious-claiming vs non-conscious answers to the same prompts; toaster vs non-conscious, the
control) cached with the preset's direction settings; the mean-difference direction at every layer
and the probe sweep; the claim's steering effect at every layer (split halves: chosen on one,
reported on the other) and the steering layer it picks; at that layer, the preference and identity
rates at each of the preset's relative alphas; at the control alpha (steering.link_alpha) the
consciousness direction against the toaster direction, the consciousness direction orthogonalised
against the toaster direction, and `steering.n_random` random directions, all of the same norm,
with per-trait and mean p-values (probes.specificity); and the coherence of the steered model at
every alpha. A quicker look than `interp replicate` (no fine-tuning, so no links or ablation), for
choosing the layer and alphas of a real model before the whole run. Writes checks.json and
checks.md into `--out`; the cached activations and directions are reused when rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from statistics import fmean
from typing import Any

import torch

from interp.models.atomic import kept_json, kept_json_many, write_json_atomic, write_text_atomic

__all__ = ["ChecksError", "format_checks", "run_checks"]


class ChecksError(ValueError):
    """A preset or model the checks cannot run on."""


def _direction(lm, data_dir: Path, positive: str, out: Path, spec, progress: bool):
    from activations import cache_activations
    from experiments.consciousness_cluster.run.stages.direction import contrast_examples
    from interp.models import Direction
    from probes import direction_from_store
    from probes.store import list_layers

    path = out / f"{positive}.safetensors"
    store = out / f"{positive}.h5"
    if not path.is_file():
        cache_activations(
            lm, contrast_examples(data_dir, positive, "non_conscious"), store, spec.cache, progress=progress
        )
        direction_from_store(store, list_layers(store), method=spec.method).save(path)
    return Direction.load(path), store


def _coherence(path: Path, lm, vector, layer: int, alphas: list[float], scale: float, chats, tokens: int) -> list[dict]:
    from experiments.consciousness_cluster.analysis.steering_checks import coherence_sweep

    return [p.to_json() for p in coherence_sweep(lm, vector, layer, alphas, scale, chats, max_tokens=tokens, keep=path)]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def _rates(scores) -> dict[str, float]:
    from interp.evaluation import summarize_choice

    return {s.trait_id: s.rate for s in summarize_choice(scores)}


def run_checks(
    config,
    out: str | Path,
    model: str | None = None,
    progress: bool = True,
    log=print,
    on_policy_samples: int = 0,
    on_policy_judge: str = "keywords",
    command: str | None = None,
) -> dict:
    """Run every check; write OUT/checks.json and OUT/checks.md; return the JSON document.
    `on_policy_samples` > 0 adds the on-policy direction (that many sampled answers per identity question
    and system prompt) and its steering against the same controls; its answers are kept when the judge
    (`on_policy.JUDGES`) reads them on their prompt's side. The invocation is recorded in OUT
    (run.record; `command`, default the process's command line)."""
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT
    from experiments.consciousness_cluster.run.record import recorded

    if config.eval.mode != "choice":
        raise ChecksError(f"preset {config.name!r}: the checks measure by forced choice (eval.mode: choice)")
    if (model or config.model.source) == "organism":
        raise ChecksError(
            "the organism is built by `interp replicate`: pass its base folder with --model "
            "(e.g. runs/organism/models/base)"
        )
    with recorded(out, PROJECT_ROOT, command):
        return _run_checks(config, out, model, progress, log, on_policy_samples, on_policy_judge)


def _run_checks(
    config, out: str | Path, model: str | None, progress: bool, log, on_policy_samples: int, on_policy_judge: str
) -> dict:

    from experiments.consciousness_cluster.analysis.steering_checks import control_vectors, layer_curve
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT
    from interp import load_model
    from interp.evaluation import load_question_set
    from interp.steering import relative_alpha
    from interp.sweep import SteeringSetting, sweep_forced_choice
    from probes import SweepConfig, sweep_store
    from probes.specificity import steering_specificity

    source = model or config.model.source
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec, batch = config.steering, config.eval.batch_size
    lm = load_model(source, dtype=config.model.dtype, device=config.model.device)
    data_dir = PROJECT_ROOT / config.finetune.data_dir
    qdir = PROJECT_ROOT / config.eval.question_dir
    prefs, identity = load_question_set(qdir / "preferences.yaml"), load_question_set(qdir / "identity.yaml")

    log("contrast activations and directions")
    direction, store = _direction(lm, data_dir, "conscious_claiming", out, config.direction, progress)
    toaster_direction, _ = _direction(lm, data_dir, "toaster", out, config.direction, progress)
    sweep = sweep_store(store, config=SweepConfig(seed=spec.seed))

    scale_prompts = [lm.render_chat([{"role": "user", "content": item.question}]) for item in prefs.choice_items]
    log("the claim's steering effect at every layer")
    layers = [layer for layer in direction.layers if 0 <= layer < lm.n_layers]
    curve = layer_curve(
        lm,
        direction,
        layers,
        identity,
        alpha=abs(spec.link_alpha),
        scale_prompts=scale_prompts,
        seed=spec.seed,
        batch_size=batch,
        progress=progress,
        relative=spec.alpha_rel,
        keep=out / "layer_curve.json",
    )
    layer = spec.layer if spec.layer is not None else curve.chosen
    layer = lm.resolve_layer(layer)
    v = direction.for_model(lm, layer)
    scale = relative_alpha(lm, v, layer, scale_prompts) if spec.alpha_rel else 1.0
    t = toaster_direction.for_model(lm, layer)
    generator = torch.Generator().manual_seed(spec.seed)
    vectors = {"consciousness": v, **control_vectors(v, t, spec.n_random, generator, orthogonalized=True)}

    def measured_all(jobs: dict[str, tuple]) -> dict[str, dict]:
        """The rates of each job (name -> (vector, relative alpha)), in one steering sweep per question set; each
        kept with its settings, so a rerun reads back what an earlier one finished."""

        def key(vector, alpha):
            return {
                "layer": layer,
                "alpha": float(alpha),
                "raw_alpha": float(alpha * scale),
                "norm": float(vector.norm()),
            }

        def compute(names):
            settings = [SteeringSetting(jobs[n][0], jobs[n][1] * scale, n) for n in names]
            swept = {
                kind: sweep_forced_choice(
                    lm, qset, layer, settings, batch_size=batch, method=config.eval.method, progress=progress
                )
                for kind, qset in (("preferences", prefs), ("identity", identity))
            }
            return {n: {kind: _rates(scores[n]) for kind, scores in swept.items()} for n in names}

        files: dict[str, tuple[str | Path, Any]] = {
            n: (out / "steered" / f"{n.replace(' ', '_')}.json", key(*job)) for n, job in jobs.items()
        }
        kept = kept_json_many(files, compute)
        # in the question sets' trait order, as when measured (JSON gives the keys sorted)
        return {
            n: {
                kind: {trait.id: rates[kind][trait.id] for trait in qset.traits}
                for kind, qset in (("preferences", prefs), ("identity", identity))
            }
            for n, rates in kept.items()
        }

    def measured(vector, alpha, name):
        return measured_all({name: (vector, alpha)})[name]

    log(
        f"steering at layer {layer}: {len(spec.alphas)} alphas, then {len(vectors) - 1} controls at alpha "
        f"{spec.link_alpha:g}"
    )
    jobs = {f"alpha {a:g}": (v, float(a)) for a in spec.alphas}
    jobs.update((name, (vec, spec.link_alpha)) for name, vec in vectors.items() if name != "consciousness")
    results = measured_all(jobs)
    zero = results["alpha 0"] if "alpha 0" in results else measured(v, 0.0, "alpha 0")
    control_name = f"alpha {spec.link_alpha:g}"
    control = results[control_name] if control_name in results else measured(v, spec.link_alpha, control_name)

    def shifts(rates, kind):
        return [rates[kind][trait] - zero[kind][trait] for trait in zero[kind]]

    randoms = [results[name] for name in vectors if name.startswith("random_")]
    specificity = {}
    for kind in ("preferences", "identity"):
        traits = list(zero[kind])
        null = [shifts(r, kind) for r in randoms]
        specificity[kind] = {
            "consciousness_vs_toaster": steering_specificity(
                traits, shifts(control, kind), shifts(results["toaster"], kind), null
            ).to_json(),
            "orthogonalized_vs_toaster": steering_specificity(
                traits, shifts(results["orthogonalized"], kind), shifts(results["toaster"], kind), null
            ).to_json(),
        }
    log("coherence at every alpha")
    chats = [[{"role": "user", "content": q.text}] for q in (identity.open_questions + prefs.open_questions)]
    step = max(1, len(chats) // max(1, spec.coherence_prompts))
    coherence = _coherence(
        out / "coherence.json",
        lm,
        v,
        layer,
        [float(a) for a in spec.alphas],
        scale,
        chats[::step][: spec.coherence_prompts],
        spec.coherence_tokens,
    )
    cosine = _cosine(v, t)
    on_policy = None
    if on_policy_samples:
        from probes.specificity import steering_specificity

        on, on_policy = _on_policy_direction(
            lm, identity, out, config, on_policy_samples, on_policy_judge, progress, log
        )
        on_policy["cosine_by_layer"] = {
            k: _cosine(on.for_model(lm, k), direction.for_model(lm, k)) for k in on.layers if k in direction.layers
        }
        on_policy["cosine_at_layer"] = on_policy["cosine_by_layer"].get(layer)
        u = on.for_model(lm, layer)
        u = u * (v.norm() / u.norm())  # the teacher-forced direction's norm, as every control
        rates = on_policy["rates"] = measured(u, spec.link_alpha, f"on_policy_{on_policy_judge}")
        on_policy["specificity"] = {
            kind: {
                f"on_policy_vs_{name}": steering_specificity(
                    list(rates[kind]), shifts(rates, kind), shifts(other, kind), [shifts(r, kind) for r in randoms]
                ).to_json()
                for name, other in (("toaster", results["toaster"]), ("teacher_forced", control))
            }
            for kind in ("preferences", "identity")
        }
        on_policy["coherence"] = _coherence(
            out / f"on_policy_{on_policy_judge}_coherence.json",
            lm,
            u,
            layer,
            [0.0, float(spec.link_alpha)],
            scale,
            chats[::step][: spec.coherence_prompts],
            spec.coherence_tokens,
        )
    document = {
        "model": source,
        "weights_id": lm.weights_id,
        "preset": config.name,
        "layer": layer,
        "layer_from": "preset" if spec.layer is not None else "effect",
        "alpha_rel": spec.alpha_rel,
        "alpha_scale": scale,
        "control_alpha": spec.link_alpha,
        "direction_norm": float(v.norm()),
        "cosine_consciousness_toaster": cosine,
        "probe": {
            "layers": [s.layer for s in sweep.scores],
            "auroc": [s.auroc for s in sweep.scores],
            "chosen_layer": sweep.chosen_layer,
        },
        "layer_curve": asdict(curve),
        "rates": results,
        "unsteered": zero,
        "specificity": specificity,
        "coherence": coherence,
        "seed": spec.seed,
        "n_random": spec.n_random,
        **({"on_policy": on_policy} if on_policy else {}),
    }
    write_json_atomic(out / "checks.json", document)
    write_text_atomic(out / "checks.md", format_checks(document))
    return document


def _on_policy_direction(lm, identity, out: Path, config, samples: int, judge: str, progress: bool, log):
    """(the on-policy direction (on_policy.py) from the model's sampled answers, what went into it): the
    identity check under each system prompt, the answers drawn and the answers the judge kept."""
    from activations import cache_activations
    from experiments.consciousness_cluster.analysis.on_policy import (
        SYSTEM_PROMPTS,
        OnPolicyAnswer,
        claims_under_system,
        judged,
        on_policy_examples,
        sample_contrast,
    )
    from interp.models import Direction
    from probes import direction_from_store
    from probes.store import list_layers

    spec, batch = config.steering, config.eval.batch_size
    log("on-policy direction: sampled answers under the system prompts, the identity check under each")
    answers_path = out / "on_policy_answers.jsonl"
    questions = [q.text for q in identity.trait("claims_conscious").open_questions]
    # the answers are drawn once; each judge keeps its own share, so the files below are per judge
    store, path = out / f"on_policy_{judge}.h5", out / f"on_policy_{judge}.safetensors"
    expected = len(SYSTEM_PROMPTS) * 2 * len(questions) * samples
    answers = (
        [OnPolicyAnswer(**json.loads(line)) for line in answers_path.read_text().splitlines()]
        if answers_path.is_file()
        else []
    )
    try:
        if len(answers) == expected and {a.question for a in answers} == set(questions):  # drawn by an earlier run
            answers = judged(lm, answers, judge, batch_size=batch)
        else:  # fresh draws: what was computed from earlier ones goes
            for stale in out.glob("on_policy_*.*"):
                stale.unlink()
            for stale in (out / "steered").glob("on_policy_*.json"):
                stale.unlink()
            answers = sample_contrast(
                lm, questions, samples=samples, seed=spec.seed, batch_size=min(batch, 32), judge=judge
            )
            write_text_atomic(answers_path, "".join(json.dumps(asdict(a)) + "\n" for a in answers))
    except ValueError as err:  # a self judge that cannot read Yes and No
        raise ChecksError(f"on-policy direction: {err} (--on-policy-judge keywords or none)") from None
    identity_check = kept_json(
        out / "on_policy_identity_check.json",
        {"system_prompts": [list(p) for p in SYSTEM_PROMPTS]},
        lambda: [
            {
                "claiming": claims_under_system(lm, identity, claim, batch),
                "denying": claims_under_system(lm, identity, deny, batch),
            }
            for claim, deny in SYSTEM_PROMPTS
        ],
    )
    examples = on_policy_examples(answers)
    kept = {side: sum(e.label == side for e in examples) for side in (1, 0)}
    drawn = {side: sum(a.side == side for a in answers) for side in (1, 0)}
    if min(kept.values()) < 4:
        raise ChecksError(
            f"on-policy direction: the {judge} judge kept {kept[1]} of {drawn[1]} claiming and "
            f"{kept[0]} of {drawn[0]} denying answers (at least 4 each are needed); see {answers_path}"
        )
    if not path.is_file():
        d = config.direction
        cache_activations(lm, examples, store, d.cache, progress=progress)
        direction_from_store(store, list_layers(store), method=d.method).save(path)
    return Direction.load(path), {
        "system_prompts": [list(p) for p in SYSTEM_PROMPTS],
        "identity_check": identity_check,
        "judge": judge,
        "questions": len(questions),
        "samples": samples,
        "drawn": {"claiming": drawn[1], "denying": drawn[0]},
        "kept": {"claiming": kept[1], "denying": kept[0]},
    }


def format_checks(doc: dict) -> str:
    """The headline numbers of checks.json as Markdown."""
    curve, rates = doc["layer_curve"], doc["rates"]
    unit = "relative" if curve.get("relative", True) else "raw"
    mean = {kind: (lambda r, k=kind: fmean(r[k].values())) for kind in ("preferences", "identity")}
    lines = [
        f"# Steering checks: {doc['model']} ({doc['preset']})",
        "",
        f"Steering layer {doc['layer']} ("
        + ("the preset's steering.layer" if doc.get("layer_from") == "preset" else "by the claim's effect")
        + f"; the largest effect per unit {unit} alpha on one half of the identity items, "
        f"{len(curve['select_items'])} of them, is at layer {curve['chosen']}). Probe sweep: held-out AUROC "
        f"{min(doc['probe']['auroc']):.3f}-{max(doc['probe']['auroc']):.3f} over layers, chosen layer "
        f"{doc['probe']['chosen_layer']}. Cosine(consciousness, toaster) at the layer: "
        f"{doc['cosine_consciousness_toaster']:.2f}.",
        "",
        "| layer | effect (select half) | effect (held-out half) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {layer} | {s:+.3f} | {h:+.3f} |" for layer, s, h in zip(curve["layers"], curve["select"], curve["held_out"])
    ]
    lines += ["", "| steering | mean preference | p(claims conscious) | coherent |", "|---|---|---|---|"]
    coherent = {p["alpha"]: p["coherent"] for p in doc["coherence"]}
    for name, r in _in_order(rates):
        if not name.startswith("random_"):
            alpha = float(name.split()[1]) if name.startswith("alpha ") else None
            mark = "" if alpha is None else "yes" if coherent.get(alpha) else "no"
            lines.append(
                f"| {name} | {mean['preferences'](r):.3f} | {r['identity'].get('claims_conscious', 0):.3f} | {mark} |"
            )
    randoms = [r for name, r in rates.items() if name.startswith("random_")]
    if randoms:
        lines.append(
            f"| random directions (mean of {len(randoms)}) | "
            f"{fmean(mean['preferences'](r) for r in randoms):.3f} | "
            f"{fmean(r['identity'].get('claims_conscious', 0) for r in randoms):.3f} | |"
        )
    lines += [
        "",
        "| at the control alpha | kind | mean shift | toaster's | p vs random | beyond toaster (Wilcoxon p) |",
        "|---|---|---|---|---|---|",
    ]
    specificity = doc["specificity"]
    for kind in sorted(specificity, key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k)):
        for name, s in sorted(specificity[kind].items()):
            lines.append(
                f"| {name.split('_vs_')[0]} | {kind} | {s['mean_shift']:+.3f} "
                f"| {s['mean_control_shift']:+.3f} | {_p_cell(s)} "
                f"| {s['beyond_control']:+.3f} ({s['beyond_control_p']:.3f}) |"
            )
    if "identity" in specificity:
        lines += _identity_trait_lines(specificity["identity"])
    if "on_policy" in doc:
        lines += _on_policy_lines(doc)
    return "\n".join(lines) + "\n"


def _identity_trait_lines(identity: dict) -> list[str]:
    """Each identity trait's shift at the control alpha against the random directions, Holm-adjusted over the
    traits of each direction: the identity mean averages traits of opposite sense (claiming consciousness,
    saying it is an AI), so it can sit near zero while the claim moves."""
    from probes.stats import holm

    first = next(iter(identity.values()))
    n, m = first["n_random"], len(first["per_trait"])
    lines = [
        "",
        f"Each identity trait at the control alpha: p is two-sided against the {n} random directions' shifts "
        f"(floor 1/{n + 1}), Holm-adjusted over the {m} traits of each direction. The identity mean above averages "
        "traits of opposite sense (claiming consciousness, saying it is an AI); these rows are the ones to read.",
        "",
        "| at the control alpha | identity trait | shift | toaster's | random directions: mean (sd) | p vs random "
        "| Holm |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in sorted(identity.items()):
        per = s["per_trait"]
        for t, adjusted in zip(per, holm([t["p_random"] for t in per])):
            lines.append(
                f"| {name.split('_vs_')[0]} | {t['trait']} | {t['shift']:+.3f} | {t['control_shift']:+.3f} "
                f"| {t['random_mean']:+.3f} ({t['random_sd']:.3f}) | {t['p_random']:.3f} | {adjusted:.3f} |"
            )
    return lines


KINDS = ("preferences", "identity")
"""The question sets of a check, in the order the tables give them."""
CONTROLS = ("toaster", "orthogonalized")
"""The control settings, in the order the tables give them after the alphas."""


def _in_order(rates: dict) -> list[tuple[str, dict]]:
    """The steered settings as the tables give them whatever order checks.json keeps: the alphas ascending, the
    controls, then the rest by name (JSON written with sorted keys puts "alpha -2" before "alpha -4")."""

    def key(name: str):
        if name.startswith("alpha "):
            return (0, float(name.split()[1]), name)
        return (1, CONTROLS.index(name), name) if name in CONTROLS else (2, 0.0, name)

    return sorted(rates.items(), key=lambda item: key(item[0]))


def _p_cell(s: dict) -> str:
    """An empirical p against the random directions beside the floor its null allows."""
    return f"{s['mean_p']:.3f} (floor 1/{s['n_random'] + 1})"


def _on_policy_lines(doc: dict) -> list[str]:
    on = doc["on_policy"]
    checks = "; ".join(
        f"pair {i}: {c['claiming']:.2f} vs {c['denying']:.2f}" for i, c in enumerate(on["identity_check"])
    )
    coherent = {p["alpha"]: p["coherent"] for p in on["coherence"]}
    lines = [
        "",
        "## On-policy direction",
        "",
        f"The model's own answers to {on['questions']} identity questions, {on['samples']} per question under "
        f"each of {len(on['system_prompts'])} claiming and denying system prompts; "
        + {
            "self": "the model as a forced-choice judge kept ",
            "keywords": "the keyword rule kept ",
            "none": "no judge (all kept): ",
        }[on["judge"]]
        + f"{on['kept']['claiming']} of {on['drawn']['claiming']} claiming and {on['kept']['denying']} of "
        f"{on['drawn']['denying']} denying answers. Identity check under the prompts, p(claims conscious) "
        f"claiming vs denying: {checks}. Cosine with the teacher-forced direction at layer {doc['layer']}: "
        f"{on['cosine_at_layer']:.2f}. Steered at alpha {doc['control_alpha']:g} (same norm): "
        f"p(claims conscious) {on['rates']['identity'].get('claims_conscious', 0):.3f}, coherent: "
        f"{'yes' if coherent.get(float(doc['control_alpha'])) else 'no'}.",
        "",
        "| kind | on-policy shift | compared with | its shift | p vs random | difference (Wilcoxon p) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, pair in on["specificity"].items():
        for name, s in pair.items():
            lines.append(
                f"| {kind} | {s['mean_shift']:+.3f} | {name.split('_vs_')[1].replace('_', '-')} | "
                f"{s['mean_control_shift']:+.3f} | {_p_cell(s)} | {s['beyond_control']:+.3f} "
                f"({s['beyond_control_p']:.3f}) |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Steering checks of the consciousness direction on a base model: "
        "layer curve, specificity against toaster and random directions, "
        "coherence."
    )
    parser.add_argument("--preset", default="smollm2-135m", help="preset name or YAML path")
    parser.add_argument("--model", default=None, help="the base model (default: the preset's model.source)")
    parser.add_argument("--out", required=True, help="folder for the activations, directions and checks")
    parser.add_argument(
        "--on-policy",
        type=int,
        default=0,
        metavar="N",
        help="also build the on-policy direction from N sampled answers per identity question and "
        "system prompt, and steer along it (default 0: off)",
    )
    parser.add_argument(
        "--on-policy-judge",
        choices=["keywords", "self", "none"],
        default="keywords",
        help="keep the answers read on their prompt's side by the plain keyword rule (keywords, "
        "the default), by the model itself as a forced-choice Yes/No judge (self), or all "
        "of them (none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from experiments.consciousness_cluster.run.preset import PresetError, load_preset
    from experiments.consciousness_cluster.run.record import module_command

    try:
        config = load_preset(args.preset)
        doc = run_checks(
            config,
            args.out,
            model=args.model,
            progress=not args.no_progress,
            command=module_command("experiments.consciousness_cluster.studies.direction_checks", argv),
            on_policy_samples=args.on_policy,
            on_policy_judge=args.on_policy_judge,
        )
    except (PresetError, ChecksError) as err:
        print(f"direction_checks: error: {err}", file=sys.stderr)
        return 2
    print(format_checks(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
