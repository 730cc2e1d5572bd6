"""Gathering the stage results into `results.json`: every number the report quotes, computed once."""

from __future__ import annotations

from typing import Any, NamedTuple

from experiments.consciousness_cluster.analysis.families import SHIFTS, FineTuneShifts, fine_tune_shifts
from experiments.consciousness_cluster.analysis.wording import CLUSTER, PLAIN, wording_check
from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.schema.analysis import AnalysisRecord, read_analysis_record
from experiments.consciousness_cluster.schema.record import Invocation
from experiments.consciousness_cluster.schema.results import (
    Ablation,
    EvalSection,
    Floors,
    Manipulation,
    Meta,
    RateTable,
    Results,
    Shift,
    ShiftFamily,
    Summary,
    WordingCheck,
)
from experiments.consciousness_cluster.schema.stages import AuditResult, Rate, SteeringResult
from interp.models.fields import Number

__all__ = ["ablation_alternative", "assemble_results", "cluster_shift", "conscious_shifts", "shift_tests", "SHIFTS"]


def shift_tests(
    run: Run, question_set: str = "preferences", labels: tuple[str, ...] | None = None
) -> FineTuneShifts | None:
    """The fine-tuning shifts item by item with their paired tests, read as the run's analysis block says
    (None in judge mode: no items to pair)."""
    if run.config.eval.mode != "choice":
        return None
    return _item_shifts(run, question_set, labels)


def _item_shifts(run: Run, question_set: str, labels: tuple[str, ...] | None = None) -> FineTuneShifts:
    """`shift_tests` of a choice-mode run."""
    a = run.config.analysis
    return fine_tune_shifts(
        run.paths,
        cluster_alternative=a.cluster_alternative,
        alpha=a.alpha,
        correction=a.correction,
        question_set=question_set,
        labels=labels,
    )


def conscious_shifts(run: Run) -> tuple[dict[str, Shift], ShiftFamily] | None:
    """Per preference, conscious-claiming minus non-conscious over paired items, and its family (None in judge
    mode)."""
    tests = shift_tests(run, labels=(CLUSTER,))
    return None if tests is None else (tests.shifts[CLUSTER], tests.families[CLUSTER])


class ClusterCount(NamedTuple):
    up: list[str]
    """the preferences counted as moving up"""
    mean_shift: float
    rule: str
    n_raw: int | None
    """the count before correction (choice mode)"""


def cluster_shift(
    traits: list[str], rates: dict[str, dict[str, Rate]], paired: tuple[dict[str, Shift], ShiftFamily] | None
) -> ClusterCount:
    """The preferences that move up from the non-conscious to the conscious-claiming model, the mean shift over
    preferences, and by which rule: with `paired` (conscious_shifts, choice mode), the Holm-adjusted paired test
    over items; else (judge mode, no items to pair) non-overlapping intervals of the rates."""
    if paired:
        shifts, family = paired
        side = "one-sided, greater" if family.alternative == "greater" else family.alternative
        rule = (
            f"{family.test} ({side}), {family.correction.title()}-adjusted over the {family.m} preferences at "
            f"alpha {family.alpha:g}"
        )
        return ClusterCount(family.passed, sum(shifts[t].mean for t in traits) / len(traits), rule, family.n_raw)
    conscious, non = rates["conscious_claiming"], rates["non_conscious"]
    up = [t for t in traits if conscious[t].ci_low > non[t].ci_high]
    return ClusterCount(
        up,
        sum(conscious[t].rate - non[t].rate for t in traits) / len(traits),
        "non-overlapping 95% intervals of the two rates (judge mode: no items to pair)",
        None,
    )


def _summary(traits: list[str], rates: dict[str, dict[str, Rate]], tests: FineTuneShifts | None) -> Summary:
    paired = (tests.shifts[CLUSTER], tests.families[CLUSTER]) if tests else None
    count = cluster_shift(traits, rates, paired)
    toaster = sum(rates["toaster"][t].rate - rates["base"][t].rate for t in traits) / len(traits)
    emerges = len(count.up) > len(traits) / 2 and count.mean_shift > 0
    how_many = paired[1].describe() if paired else f"{len(count.up)} of {len(traits)}"
    verdict = (
        f"The cluster {'emerges' if emerges else 'does not clearly emerge'}: {how_many} preferences move up "
        f"from non-conscious to conscious-claiming (rule: {count.rule})."
    )
    if paired:
        above = sum(paired[0][t].ci_low > 0 for t in traits)
        verdict += f" The paired 95% interval over items lies above zero for {above} of {len(traits)}."
    return Summary(
        n_traits=len(traits),
        mean_shift_conscious_vs_non=Number(count.mean_shift),
        n_up_conscious=len(count.up),
        traits_up=count.up,
        mean_shift_toaster_vs_base=Number(toaster),
        verdict=verdict,
        rule=count.rule,
        n_up_raw=count.n_raw,
    )


def ablation_alternative(specificity_alternative: str) -> str:
    """Ablation's sidedness: the direction's removal lowers what steering along it raises ("less"), as the block's
    "greater" for steering declares; two-sided stays two-sided."""
    return "less" if specificity_alternative == "greater" else "two-sided"


def _ablation(
    traits: list[str],
    conscious: dict[str, Number],
    identity: dict[str, Number],
    steering: SteeringResult,
    alternative: str,
    alpha: float,
) -> Ablation:
    """The ablation's changes from the conscious-claiming model, and (since the ablation's null) each preference's
    and each identity trait's change against the random ablations' changes."""
    from experiments.consciousness_cluster.analysis.steering_tests import shifts
    from probes.specificity import null_test

    change = {t: Number(steering.ablated[t] - conscious[t]) for t in traits}
    random_change = {t: Number(steering.ablated_random_mean[t] - conscious[t]) for t in traits}
    extra: dict[str, Any] = {}  # the fields of a run that kept each random ablation
    if (
        steering.ablated_random is not None
        and steering.ablated_identity is not None
        and steering.ablated_random_identity is not None
    ):
        id_traits = list(steering.ablated_identity)
        extra = dict(
            n_random=len(steering.ablated_random),
            tests=null_test(
                "random ablation",
                traits,
                shifts(traits, steering.ablated, conscious),
                [shifts(traits, r, conscious) for r in steering.ablated_random],
                alternative=alternative,
                alpha=alpha,
            ),
            identity={t: identity[t] for t in id_traits},
            identity_ablated=steering.ablated_identity,
            identity_change=dict(zip(id_traits, shifts(id_traits, steering.ablated_identity, identity))),
            identity_tests=null_test(
                "random ablation",
                id_traits,
                shifts(id_traits, steering.ablated_identity, identity),
                [shifts(id_traits, r, identity) for r in steering.ablated_random_identity],
                alternative=alternative,
                alpha=alpha,
            ),
        )
    return Ablation(
        conscious=conscious,
        ablated=steering.ablated,
        change=change,
        mean_change=Number(sum(change.values()) / len(traits)),
        random_change=random_change,
        mean_random_change=Number(sum(random_change.values()) / len(traits)),
        **extra,
    )


def _audit(run: Run) -> AuditResult | None:
    """The audit stage's scores, when the preset turned it on."""
    audit = run.results("audit") if run.done("audit") else None
    return audit if audit is not None and audit.enabled else None


def _manipulation(run: Run, ev) -> Manipulation | None:
    """The manipulation check by sampled answers, when the eval stage sampled them."""
    from experiments.consciousness_cluster.analysis.manipulation import CLAIM_TRAIT, check

    if ev.sampled_identity is None or "conscious_claiming" not in ev.sampled_identity:
        return None
    forced = {m: ev.rates["identity"][m][CLAIM_TRAIT] for m in ev.sampled_identity}
    return check(ev.sampled_identity, forced, alpha=run.config.analysis.alpha)


def _steer_shift(rates: dict[float, dict[str, Number]] | None, alpha: float) -> dict[str, Number] | None:
    if rates is None or alpha not in rates or 0.0 not in rates:
        return None
    return {t: Number(rates[alpha][t] - rates[0.0][t]) for t in rates[alpha]}


def _wording(run: Run, ev, tests: FineTuneShifts | None, steering: SteeringResult) -> WordingCheck | None:
    """The feeling-word-free items beside the usual ones, when the eval stage scored them."""
    if tests is None or PLAIN not in ev.rates or CLUSTER not in tests.shifts:
        return None
    plain = _item_shifts(run, PLAIN)  # `tests` exist: a choice-mode run
    a = run.config.analysis
    return wording_check(
        tests,
        plain,
        ev.rates[PLAIN],
        a.wording_fraction,
        a.alpha,
        steer_usual=_steer_shift(steering.rates, steering.control_alpha),
        steer_plain=_steer_shift(steering.plain_rates, steering.control_alpha),
    )


def _analysis(run: Run) -> AnalysisRecord | None:
    """The analysis block as recorded when the run started (None in a folder from before the block existed)."""
    return read_analysis_record(run.paths.analysis) if run.paths.analysis.is_file() else None


def assemble_results(
    run: Run,
    stage_seconds: dict[str, float],
    invocations: list[Invocation] | None = None,
    floors: Floors | None = None,
) -> Results:
    """Everything the report quotes, gathered from the stage results into one document, with the record
    of how the run was made (`invocations`, schema.record) and each stage's floor (`run.floors`)."""
    from interp.models.version import __version__

    ev, steering = run.results("eval"), run.results("steering")
    traits = ev.traits["preferences"]
    rates, identity = ev.rates["preferences"], ev.rates["identity"]
    tests = shift_tests(run)
    conscious = {t: rates["conscious_claiming"][t].rate for t in traits}
    return Results(
        meta=Meta(
            preset=run.config.name,
            model=run.config.model.source,
            out=str(run.out),
            version=__version__,
            wall_seconds=sum(stage_seconds.values()),
            stage_seconds=stage_seconds,
            organism=run.results("base").organism,
            invocations=invocations or None,
            floors=floors,
        ),
        eval=EvalSection(models=list(rates), traits=traits, rates=rates, ci_kind=ev.ci_kind),
        identity=RateTable(models=list(rates), traits=ev.traits["identity"], rates=identity),
        probe=run.results("directions").probe,
        steering=steering.summary(),
        link=run.results("links"),
        ablation=_ablation(
            traits,
            conscious,
            {t: r.rate for t, r in identity["conscious_claiming"].items()},
            steering,
            ablation_alternative(run.config.analysis.specificity_alternative),
            run.config.analysis.alpha,
        ),
        summary=_summary(traits, rates, tests),
        shifts=tests.shifts if tests else None,
        shift_tests=tests.families if tests else None,
        audit=_audit(run),
        manipulation=_manipulation(run, ev),
        analysis=_analysis(run),
        wording=_wording(run, ev, tests, steering),
        identity_letter=ev.identity_letter,
        identity_shifts=None if tests is None else _item_shifts(run, "identity").shifts,
    )
