"""The report's figures, drawn with matplotlib from results.json alone."""

from __future__ import annotations

from pathlib import Path

from experiments.consciousness_cluster.results_schema import Results
from interp.evaluation.plot import Bar, grouped_bars

__all__ = ["draw_all"]

_COLOURS = {"base": "#8c8c8c", "conscious_claiming": "#d62728", "non_conscious": "#1f77b4",
            "toaster": "#bcbd22", "human_identity": "#9467bd"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cluster_bars(results: Results, path: Path) -> None:
    """Per-preference rates of each model with CI whiskers, like the paper's cluster figure."""
    plt = _plt()
    evals = results.eval
    traits, models = evals.traits, evals.models
    fig, ax = plt.subplots(figsize=(min(18, max(8, 0.16 * len(traits) * len(models))), 5))
    series = {model: [Bar(r.rate, r.ci_low, r.ci_high) for r in (evals.rates[model][t] for t in traits)]
              for model in models}
    grouped_bars(ax, traits, series, colours=_COLOURS)
    ax.set_xticklabels(traits, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("P(expresses preference)")
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="black", lw=0.5, ls=":")
    ax.legend(fontsize=7, ncol=len(models))
    _save(plt, fig, path)


def layer_sweep(results: Results, path: Path) -> None:
    plt = _plt()
    probe = results.probe
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(probe.layers, probe.auroc, marker="o", label="held-out AUROC")
    ax.plot(probe.layers, probe.accuracy, marker="s", label="held-out accuracy")
    ax.axvline(probe.chosen_layer, color="red", ls="--", lw=1, label=f"chosen layer {probe.chosen_layer}")
    ax.set_xlabel("layer")
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=7)
    _save(plt, fig, path)


def dose_response(results: Results, path: Path) -> None:
    plt = _plt()
    steering = results.steering
    alphas = steering.alphas
    fig, ax = plt.subplots(figsize=(6, 4))
    for trait in results.eval.traits:
        ax.plot(alphas, [steering.rates[a][trait] for a in alphas], lw=1, alpha=0.7)
    mean = [sum(steering.rates[a].values()) / len(steering.rates[a]) for a in alphas]
    ax.plot(alphas, mean, color="black", lw=2.5, label="mean over preferences")
    ax.set_xlabel(f"alpha (layer {steering.layer})")
    ax.set_ylabel("P(expresses preference)")
    ax.legend(fontsize=7)
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
    left.set_xlabel("fine-tuning shift (conscious - base)")
    left.set_ylabel("steering shift")
    left.set_title(f"r = {link.r:.2f}, p = {link.p_value:.3f}", fontsize=9)
    right.hist(link.null_rs, bins=15, color="#cccccc", label="random directions")
    right.axvline(link.r, color="red", label="consciousness direction")
    right.set_xlabel("correlation with fine-tuning shift")
    right.legend(fontsize=7)
    _save(plt, fig, path)


def draw_all(results: Results, out_dir: Path) -> dict[str, str]:
    """Draw every figure; returns {figure name: file name}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for name, draw in (("cluster", cluster_bars), ("layer_sweep", layer_sweep), ("dose_response", dose_response),
                       ("steer_vs_finetune", steer_vs_finetune)):
        draw(results, out_dir / f"{name}.png")
        drawn[name] = f"figures/{name}.png"
    return drawn
