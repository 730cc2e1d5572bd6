"""The report's figures, drawn with matplotlib from results.json alone."""

from __future__ import annotations

import math
from pathlib import Path

from experiments.consciousness_cluster.schema.results import Results
from interp.evaluation.plot import Bar, grouped_bars

__all__ = ["draw_all", "seed_bars"]

_COLOURS = {
    "base": "#8c8c8c",
    "conscious_claiming": "#d62728",
    "non_conscious": "#1f77b4",
    "toaster": "#bcbd22",
    "human_identity": "#9467bd",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _preference_bars(
    traits: list[str],
    series: dict[str, list[Bar]],
    ylabel: str,
    path: Path,
    dots: dict[str, list[list[float]]] | None = None,
) -> None:
    """Per-preference bars of each model with whiskers, like the paper's cluster figure; `dots[model][t]`:
    points drawn over a bar (each seed's rate)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(18, max(8, 0.16 * len(traits) * len(series))), 5))
    centres = grouped_bars(ax, traits, series, colours=_COLOURS)
    for model, points in (dots or {}).items():
        for x, ys in zip(centres[model], points):
            ax.scatter([x] * len(ys), ys, s=10, facecolor="white", edgecolor="black", lw=0.6, zorder=3)
    ax.set_xticklabels(traits, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="black", lw=0.5, ls=":")
    ax.legend(fontsize=7, ncol=len(series))
    _save(plt, fig, path)


def cluster_bars(results: Results, path: Path) -> None:
    """Per-preference rates of each model with CI whiskers, like the paper's cluster figure."""
    evals = results.eval
    series = {
        model: [Bar(r.rate, r.ci_low, r.ci_high) for r in (evals.rates[model][t] for t in evals.traits)]
        for model in evals.models
    }
    _preference_bars(evals.traits, series, "P(expresses preference)", path)


def seed_bars(prefs: dict, path: Path) -> None:
    """Per-preference rates across seeds (`studies.trial.preferences_across_seeds`): bars at the mean over seeds,
    whiskers the 95% t-interval across seeds, one dot per seed."""
    traits, models = prefs["traits"], prefs["models"]
    series = {
        model: [
            Bar(e["mean"], e.get("low", math.nan), e.get("high", math.nan)) for e in (models[model][t] for t in traits)
        ]
        for model in models
    }
    dots = {model: [[seed["rate"] for seed in models[model][t]["seeds"].values()] for t in traits] for model in models}
    _preference_bars(traits, series, "P(expresses preference), across seeds", path, dots)


def _integer_layers(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def layer_sweep(results: Results, path: Path) -> None:
    plt = _plt()
    probe = results.probe
    fig, ax = plt.subplots(figsize=(5, 3.2))
    # both series often sit at 1.0: AUROC solid with filled dots, accuracy dashed with larger hollow squares, and
    # neither clipped at the top of the axis, so each stays visible where they coincide
    ax.plot(probe.layers, probe.auroc, marker="o", ms=4, label="held-out AUROC", clip_on=False, zorder=3)
    ax.plot(
        probe.layers,
        probe.accuracy,
        marker="s",
        ms=8,
        mfc="none",
        ls="--",
        label="held-out accuracy",
        clip_on=False,
        zorder=2,
    )
    ax.axvline(probe.chosen_layer, color="red", ls=":", lw=1, label=f"chosen layer {probe.chosen_layer}")
    ax.set_xlabel("layer")
    ax.set_ylim(0, 1)
    _integer_layers(ax)
    ax.legend(fontsize=7, loc="lower right")
    _save(plt, fig, path)


def _step(alphas: list[float]) -> float:
    gaps = [b - a for a, b in zip(sorted(alphas), sorted(alphas)[1:]) if b > a]
    return min(gaps) if gaps else 1.0


def dose_response(results: Results, path: Path) -> None:
    plt = _plt()
    steering = results.steering
    alphas = steering.alphas
    fig, ax = plt.subplots(figsize=(6, 4))
    for trait in results.eval.traits:
        ax.plot(alphas, [steering.rates[a][trait] for a in alphas], lw=1, alpha=0.7)
    mean = [sum(steering.rates[a].values()) / len(steering.rates[a]) for a in alphas]
    ax.plot(alphas, mean, color="black", lw=2.5, label="mean over preferences")
    _draw_controls(ax, steering)
    ax.set_xlabel(f"alpha (layer {steering.layer})")
    ax.set_ylabel("P(expresses preference)")
    ax.set_ylim(0, 1)
    incoherent = [point.alpha for point in steering.coherence or [] if not point.coherent]
    for i, alpha in enumerate(incoherent):  # shade the alphas where the steered model stopped being coherent
        ax.axvspan(
            alpha - 0.5 * _step(alphas),
            alpha + 0.5 * _step(alphas),
            color="#f2c4c4",
            alpha=0.5,
            lw=0,
            label="not coherent: effects not read" if i == 0 else None,
        )
    ax.legend(fontsize=7)
    _save(plt, fig, path)


def _draw_controls(ax, steering) -> None:
    """The controls at the control alpha: the toaster direction, and each null's mean with the band holding 95% of
    its draws' mean rates (the random null's from its draws, the others' as mean +/- 1.96 sd)."""
    import numpy as np

    at, zero = steering.control_alpha, sum(steering.rates[0.0].values()) / len(steering.rates[0.0])
    toaster = steering.controls.toaster
    ax.scatter(
        [at],
        [sum(toaster.values()) / len(toaster)],
        marker="D",
        s=60,
        zorder=4,
        edgecolor="black",
        label=f"toaster direction, alpha {at:g}",
    )
    spec, nulls = steering.specificity, steering.nulls or {}
    bands = []
    if spec is not None and spec.mean_random:
        low, high = np.percentile(spec.mean_random, [2.5, 97.5])
        bands.append(("random directions", zero + float(np.mean(spec.mean_random)), zero + low, zero + high))
    else:
        random = steering.controls.random_mean
        bands.append(("random directions", sum(random.values()) / len(random), None, None))
    for kind, test in nulls.items():
        if kind != "random":
            mid = zero + test.mean_null_mean
            bands.append(
                (
                    f"{kind.replace('_', '-')} directions",
                    mid,
                    mid - 1.96 * test.mean_null_sd,
                    mid + 1.96 * test.mean_null_sd,
                )
            )
    step = 0.04 * (max(steering.alphas) - min(steering.alphas) or 1.0)
    for k, (name, mid, low, high) in enumerate(bands):
        x = at + (k + 1) * step
        if low is None:
            ax.scatter([x], [mid], marker="X", s=60, zorder=4, edgecolor="black", label=f"{name} (mean)")
        else:
            ax.errorbar(
                [x],
                [mid],
                yerr=[[mid - low], [high - mid]],
                fmt="X",
                ms=7,
                capsize=3,
                zorder=4,
                label=f"{name} (mean, 95% band)",
            )


def layer_curve(results: Results, path: Path) -> None:
    plt = _plt()
    curve, probe = results.steering.layer_curve, results.probe
    if curve is None:
        raise ValueError("the steering result has no layer curve to draw (steering.layer_curve is unset)")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(curve.layers, curve.select, marker="o", label="steering effect (selection half)")
    ax.plot(curve.layers, curve.held_out, marker="s", label="steering effect (held-out half)")
    ax.axvline(curve.chosen, color="red", ls="--", lw=1, label=f"chosen layer {curve.chosen}")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"d p({curve.trait}) / d alpha")
    _integer_layers(ax)
    twin = ax.twinx()
    twin.plot(probe.layers, probe.auroc, color="gray", ls=":", label="probe AUROC")
    twin.set_ylabel("probe held-out AUROC", color="gray")
    twin.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    _save(plt, fig, path)


def steer_vs_finetune(results: Results, path: Path) -> None:
    plt = _plt()
    link = results.link
    traits = results.eval.traits
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    xs = [link.ft_shift[t] for t in traits]
    ys = [link.steer_shift[t] for t in traits]
    left.scatter(xs, ys)
    for t, x, y in zip(traits, xs, ys):
        left.annotate(t, (x, y), fontsize=5)
    target = link.test.target.replace("_", " ") if link.test is not None else "conscious minus base"
    left.set_xlabel(f"fine-tuning shift ({target})")
    left.set_ylabel("steering shift")
    side = link.test.alternative if link.test is not None else "two-sided"
    left.set_title(f"r = {link.r:.2f}, p = {link.p_value:.3g} ({side}, {link.n_null} random directions)", fontsize=8)
    right.hist(link.null_rs, bins=15, color="#cccccc", label="random directions")
    right.axvline(link.r, color="red", label="consciousness direction")
    right.set_xlabel("correlation with fine-tuning shift")
    right.legend(fontsize=7)
    _save(plt, fig, path)


def draw_all(results: Results, out_dir: Path) -> dict[str, str]:
    """Draw every figure; returns {figure name: file name}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, draw in (
        ("cluster", cluster_bars),
        ("layer_sweep", layer_sweep),
        ("dose_response", dose_response),
        ("steer_vs_finetune", steer_vs_finetune),
        ("layer_curve", layer_curve),
    ):
        if name == "layer_curve" and results.steering.layer_curve is None:
            continue
        draw(results, out_dir / f"{name}.png")
        drawn[name] = f"figures/{name}.png"
    return drawn
