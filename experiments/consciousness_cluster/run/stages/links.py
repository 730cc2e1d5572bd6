"""Stage 7: the links between the direction and behaviour, read as the analysis block declares.

- steering shift vs fine-tuning shift over preferences: target analysis.link_target (by default conscious-claiming
  minus non-conscious, the direction's own contrast), sidedness analysis.link_alternative, against the random
  directions' steering shifts, with a bootstrap interval on r over preferences and the smallest r the null lets
  the test detect at analysis.power (`probes.stats.correlation_link`);
- per response: each model's projection on each question against its score there, the interval from a bootstrap
  over items (the responses of one item resampled together) and the within-item correlation across models;
- per (variant, preference): the activation shift along the direction against the rate shift, by the same
  conventions as the first.
"""

from __future__ import annotations

import json
import math

import numpy as np
import torch

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import model_paths
from experiments.consciousness_cluster.schema.stages import LinksResult, LinkStats, ProjectionScore
from interp.models import Direction
from interp.models.fields import Number

__all__ = ["LINK_REFERENCE", "link_stats", "run_links"]

LINK_REFERENCE = {"conscious_minus_non_conscious": "non_conscious", "conscious_minus_base": "base"}
"""analysis.link_target -> the model the conscious-claiming model's rates are compared with."""


def link_stats(test, target: str, alternative: str, alpha: float, power: float) -> LinkStats:
    """A `probes.stats.LinkTest` (or any result with its fields) as stored."""
    return LinkStats(
        target=target,
        alternative=alternative,
        p_floor=test.p.floor,
        z=test.p.z,
        null_mean=test.p.null_mean,
        null_sd=test.p.null_sd,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        ci_level=test.ci_level,
        n_boot=test.n_boot,
        detectable_r=test.detectable_r,
        critical_r=test.critical_r,
        alpha=alpha,
        power=power,
        passed=bool(math.isfinite(test.p.p) and test.p.p <= alpha),
    )


def _response_scores(run: Run, key: str) -> dict[str, float]:
    """Behaviour score per question id for one model: p(expressing) of each forced-choice item, or the
    share of coherent sampled answers the judge marked as expressing, per open question."""
    if run.config.eval.mode == "choice":
        rows = [json.loads(line) for line in run.paths.items(key).read_text().splitlines()]
        return {row["item"]: row["p_expressing"] for row in rows}
    verdicts: dict[str, list[float]] = {}
    for line in run.paths.samples(key).read_text().splitlines():
        row = json.loads(line)
        if (
            row["type"] == "judgement"
            and row["judge"] == "binary"
            and row["value"] is not None
            and row["judge_model"] == run.config.eval.judge_model
        ):
            verdicts.setdefault(row["item_id"], []).append(row["value"])
    return {item: sum(values) / len(values) for item, values in verdicts.items()}


def _projection_score_link(run: Run, layer: int, unit: torch.Tensor) -> ProjectionScore:
    """Each model's last-token activation of each question, projected on the direction, against that
    model's behaviour score on the question; pooled over the base model and the variants, resampled by item."""
    from activations import ActivationStore
    from probes.link import per_example_projection, projection_score_link
    from probes.stats import cluster_bootstrap_corr, within_cluster_corr

    files = run.results("cache")
    projections, scores, items = [], [], []
    for key in model_paths(run):
        score_of = _response_scores(run, key)
        with ActivationStore(files.prompts(key).path) as store:
            examples, proj = per_example_projection(store.acts(layer), store.example_index, unit.numpy())
            ids = store.examples("id")[examples]
        for question, value in zip(ids, proj):
            if question in score_of and math.isfinite(score_of[question]):  # judge mode: no coherent answer
                projections.append(float(value))
                scores.append(score_of[question])
                items.append(str(question))
    seed = run.config.steering.seed
    plain = projection_score_link(projections, scores, seed=seed)
    by_item = cluster_bootstrap_corr(projections, scores, items, n_boot=plain.n_boot, level=plain.ci_level, seed=seed)
    try:
        within = within_cluster_corr(projections, scores, items, n_boot=plain.n_boot, level=plain.ci_level, seed=seed)
        within_r, within_low, within_high = within.r, within.low, within.high
    except ValueError:  # every model scores (or projects) an item alike: there is no within-item variation
        within_r = within_low = within_high = math.nan
    return ProjectionScore(
        layer=layer,
        pearson=Number(plain.pearson),
        pearson_p=Number(plain.pearson_p),
        spearman=Number(plain.spearman),
        spearman_p=Number(plain.spearman_p),
        ci_low=Number(by_item.low),
        ci_high=Number(by_item.high),
        ci_level=plain.ci_level,
        n=plain.n,
        n_boot=plain.n_boot,
        seed=seed,
        resampled="items",
        n_items=by_item.n_clusters,
        within_r=Number(within_r),
        within_ci_low=Number(within_low),
        within_ci_high=Number(within_high),
    )


def _direction(run: Run, name: str) -> Direction:
    return Direction.load(run.results("directions").directions[name].path)


def run_links(run: Run) -> LinksResult:
    from activations import ActivationStore
    from probes.stats import correlation_link

    st, ev, a = run.results("steering"), run.results("eval"), run.config.analysis
    traits = ev.traits["preferences"]
    zero = st.rates[0.0]
    steer_shift = [st.rates[st.control_alpha][t] - zero[t] for t in traits]
    prefs, reference = ev.rates["preferences"], LINK_REFERENCE[a.link_target]
    ft_shift = [prefs["conscious_claiming"][t].rate - prefs[reference][t].rate for t in traits]
    null = [[r[t] - zero[t] for t in traits] for r in st.random]
    # a trait without a rate somewhere (judge mode, no coherent answer) has no shift to correlate
    kept = [i for i in range(len(traits)) if np.isfinite([steer_shift[i], ft_shift[i], *(n[i] for n in null)]).all()]
    test = correlation_link(
        np.array(steer_shift)[kept],
        np.array(ft_shift)[kept],
        np.array(null)[:, kept],
        alternative=a.link_alternative,
        alpha=a.alpha,
        power=a.power,
        seed=run.config.steering.seed,
    )
    row = _direction(run, "consciousness").at(st.layer)
    unit = row / row.norm()
    files = run.results("cache")
    means = {}
    for key in ("conscious_claiming", reference):
        with ActivationStore(files.prompts(key).path) as store:
            means[key] = store.acts(st.layer, as_torch=True).float().mean(0)
    shift = float((means["conscious_claiming"] - means[reference]) @ unit)
    return LinksResult(
        r=Number(test.r),
        p_value=Number(test.p.p),
        n_null=len(null),
        null_rs=[Number(float(x)) for x in test.null_rs],
        steer_shift=dict(zip(traits, steer_shift)),
        ft_shift=dict(zip(traits, ft_shift)),
        variant_projection=Number(shift),
        projection_score=_projection_score_link(run, st.layer, unit),
        projection_shift=_variant_projection_link(run, st.layer, unit),
        test=link_stats(test, a.link_target, a.link_alternative, a.alpha, a.power),
    )


def _variant_projection_link(run: Run, layer: int, unit: torch.Tensor):
    """Every variant's shift along the direction per preference against its rate shift (random-direction null)."""
    from activations import ActivationStore
    from experiments.consciousness_cluster.analysis.steering_checks import trait_means, variant_projection_link

    files, rates, a = run.results("cache"), run.results("eval").rates["preferences"], run.config.analysis
    means = {}
    for key in model_paths(run):
        with ActivationStore(files.prompts(key).path) as store:
            means[key] = trait_means(store.acts(layer), list(store.examples("id")[store.example_index]))
    behaviour = {key: {t: r.rate for t, r in rates[key].items()} for key in means}
    return variant_projection_link(
        means,
        behaviour,
        unit.numpy(),
        layer,
        run.config.steering.n_random,
        run.config.steering.seed,
        alternative=a.link_alternative,
        alpha=a.alpha,
        power=a.power,
    )
