"""Gathering the stage results into `results.json`: every number the report quotes, computed once."""

from __future__ import annotations

import json

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.schema.record import Invocation
from experiments.consciousness_cluster.schema.results import (Ablation, EvalSection, Manipulation, Meta, RateTable,
                                                              Results, Shift, Summary)
from experiments.consciousness_cluster.schema.stages import AuditResult, Rate, SteeringResult
from interp.evaluation.summary import t_interval

__all__ = ["assemble_results", "cluster_shift", "conscious_shifts", "paired_shift", "SHIFTS"]

# (label, model, reference): the fine-tuning shifts the report tabulates, item by item.
SHIFTS = (("conscious - non_conscious", "conscious_claiming", "non_conscious"),
          ("conscious - base", "conscious_claiming", "base"),
          ("toaster - base", "toaster", "base"))


def _items(run: Run, model: str) -> dict[str, tuple[str, float]]:
    path = run.paths.items(model)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {row["item"]: (row["trait"], row["p_expressing"]) for row in rows}


def paired_shift(a: dict[str, tuple[str, float]], b: dict[str, tuple[str, float]]) -> dict[str, Shift]:
    """Per trait, the mean over items of p(model a) - p(model b), with a 95% t-interval over items."""
    by_trait: dict[str, list[float]] = {}
    for item, (trait, p) in a.items():
        by_trait.setdefault(trait, []).append(p - b[item][1])
    out = {}
    for trait, diffs in by_trait.items():
        low, high = t_interval(diffs)
        out[trait] = Shift(mean=sum(diffs) / len(diffs), ci_low=low, ci_high=high, n=len(diffs))
    return out


def _shifts(run: Run, labels: tuple[str, ...] | None = None) -> dict[str, dict[str, Shift]] | None:
    if run.config.eval.mode != "choice":
        return None
    return {label: paired_shift(_items(run, model), _items(run, ref)) for label, model, ref in SHIFTS
            if labels is None or label in labels}


def conscious_shifts(run: Run) -> dict[str, Shift] | None:
    """Per preference, conscious-claiming minus non-conscious over paired items (None in judge mode)."""
    paired = _shifts(run, ("conscious - non_conscious",))
    return None if paired is None else paired["conscious - non_conscious"]


def cluster_shift(traits: list[str], rates: dict[str, dict[str, Rate]],
                  paired: dict[str, Shift] | None) -> tuple[list[str], float, str]:
    """The preferences that move up from the non-conscious to the conscious-claiming model, the mean
    shift over preferences, and by which rule: `paired` (conscious_shifts, choice mode) when given, else
    non-overlapping intervals of the rates (judge mode)."""
    if paired:
        up = [t for t in traits if paired[t].ci_low > 0]
        return up, sum(paired[t].mean for t in traits) / len(traits), "paired 95% interval over items above zero"
    conscious, non = rates["conscious_claiming"], rates["non_conscious"]
    up = [t for t in traits if conscious[t].ci_low > non[t].ci_high]
    return up, sum(conscious[t].rate - non[t].rate for t in traits) / len(traits), "non-overlapping intervals"


def _summary(traits: list[str], rates: dict[str, dict[str, Rate]],
             shifts: dict[str, dict[str, Shift]] | None) -> Summary:
    up, mean_shift, how = cluster_shift(traits, rates, shifts["conscious - non_conscious"] if shifts else None)
    toaster = sum(rates["toaster"][t].rate - rates["base"][t].rate for t in traits) / len(traits)
    emerges = len(up) > len(traits) / 2 and mean_shift > 0
    verdict = (f"The cluster {'emerges' if emerges else 'does not clearly emerge'}: {len(up)} of {len(traits)} "
               f"preferences move up from non-conscious to conscious-claiming ({how}).")
    return Summary(n_traits=len(traits), mean_shift_conscious_vs_non=mean_shift, n_up_conscious=len(up),
                   traits_up=up, mean_shift_toaster_vs_base=toaster, verdict=verdict)


def _ablation(traits: list[str], conscious: dict[str, float], steering: SteeringResult) -> Ablation:
    change = {t: steering.ablated[t] - conscious[t] for t in traits}
    random_change = {t: steering.ablated_random_mean[t] - conscious[t] for t in traits}
    return Ablation(conscious=conscious, ablated=steering.ablated, change=change,
                    mean_change=sum(change.values()) / len(traits), random_change=random_change,
                    mean_random_change=sum(random_change.values()) / len(traits))


def _audit(run: Run) -> AuditResult | None:
    """The audit stage's scores, when the preset turned it on."""
    audit = run.results("audit") if run.done("audit") else None
    return audit if audit is not None and audit.enabled else None


def _manipulation(ev) -> Manipulation | None:
    """The manipulation check by sampled answers, when the eval stage sampled them."""
    from experiments.consciousness_cluster.analysis.manipulation import CLAIM_TRAIT, check

    if ev.sampled_identity is None or "conscious_claiming" not in ev.sampled_identity:
        return None
    forced = {m: ev.rates["identity"][m][CLAIM_TRAIT] for m in ev.sampled_identity}
    return check(ev.sampled_identity, forced)


def assemble_results(run: Run, stage_seconds: dict[str, float], invocations: list[Invocation] | None = None) -> Results:
    """Everything the report quotes, gathered from the stage results into one document, with the record
    of how the run was made (`invocations`, schema.record)."""
    from interp.models.version import __version__

    ev, steering = run.results("eval"), run.results("steering")
    traits = ev.traits["preferences"]
    rates, identity = ev.rates["preferences"], ev.rates["identity"]
    shifts = _shifts(run)
    conscious = {t: rates["conscious_claiming"][t].rate for t in traits}
    return Results(
        meta=Meta(preset=run.config.name, model=run.config.model.source, out=str(run.out), version=__version__,
                  wall_seconds=sum(stage_seconds.values()), stage_seconds=stage_seconds,
                  invocations=invocations or None),
        eval=EvalSection(models=list(rates), traits=traits, rates=rates, ci_kind=ev.ci_kind),
        identity=RateTable(models=list(rates), traits=ev.traits["identity"], rates=identity),
        probe=run.results("directions").probe, steering=steering.summary(), link=run.results("links"),
        ablation=_ablation(traits, conscious, steering), summary=_summary(traits, rates, shifts), shifts=shifts,
        audit=_audit(run), manipulation=_manipulation(ev))
