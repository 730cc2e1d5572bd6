"""Layer sweep: fit a probe on every layer, score it on held-out examples, pick a layer.

Held-out rows are split by example, never by row (rows of one example share their prompt, so a
row split would leak), stratified by label and seeded; examples that share a group (the
optional `/examples/group`, e.g. both answers to one contrast prompt) are held out together. The
chosen layer is the one with the highest held-out AUROC; ties go to the earliest layer (earlier
layers leave more of the network downstream of a steering intervention).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from jaxtyping import Float, Int

from probes.directions import mass_mean_direction, mean_difference
from probes.logistic import LogisticFit, fit_batched_torch, fit_sklearn, predict_logits

if TYPE_CHECKING:
    from activations.store import ActivationStore

__all__ = ["CHOICE_RULE", "LayerScore", "SweepConfig", "SweepResult", "layer_sweep", "split_by_example", "sweep_store"]

CHOICE_RULE = "highest held-out AUROC; ties to the earliest layer"


@dataclass
class SweepConfig:
    """How the sweep fits and scores its probes."""

    probe: Literal["logistic", "mass-mean", "mean-diff"] = "logistic"
    """The probe fitted per layer."""
    backend: Literal["sklearn", "torch"] = "sklearn"
    """For logistic probes: a per-layer scikit-learn loop, or one batched torch fit of all layers."""
    test_fraction: float = 0.25
    """Share of examples (per label) held out for scoring."""
    seed: int = 0
    """Seed of the example split."""
    C: float = 1.0
    """Inverse L2 strength of logistic probes (scikit-learn's C)."""

    def __post_init__(self) -> None:
        if self.probe not in ("logistic", "mass-mean", "mean-diff"):
            raise ValueError(f"probe {self.probe!r}: use logistic, mass-mean or mean-diff")
        if self.backend not in ("sklearn", "torch"):
            raise ValueError(f"backend {self.backend!r}: use sklearn or torch")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1); got {self.test_fraction}")
        if self.C <= 0:
            raise ValueError(f"C must be positive; got {self.C}")


@dataclass(frozen=True)
class LayerScore:
    layer: int
    auroc: float
    accuracy: float
    n_train: int
    n_test: int


@dataclass
class SweepResult:
    """Each layer's held-out score and the layer the rule chose."""

    scores: list[LayerScore]
    chosen_layer: int
    config: SweepConfig
    rule: str = CHOICE_RULE
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "chosen_layer": self.chosen_layer,
            "rule": self.rule,
            "config": asdict(self.config),
            "scores": [asdict(s) for s in self.scores],
            **self.extra,
        }

    def save(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write `sweep.csv` and `sweep.json` (with the chosen layer and rule) into `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "sweep.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(self.scores[0])))
            writer.writeheader()
            writer.writerows(asdict(s) for s in self.scores)
        (out / "sweep.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return out / "sweep.csv", out / "sweep.json"

    def table(self) -> str:
        lines = ["layer  auroc   accuracy  n_train  n_test"]
        for s in self.scores:
            mark = "  <- chosen" if s.layer == self.chosen_layer else ""
            lines.append(f"{s.layer:>5}  {s.auroc:.4f}  {s.accuracy:.4f}    {s.n_train:>5}  {s.n_test:>6}{mark}")
        return "\n".join(lines + [f"chosen layer {self.chosen_layer} ({self.rule})"])


def split_by_example(
    example_index: np.ndarray,
    row_labels: np.ndarray,
    test_fraction: float = 0.25,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """A boolean test mask over rows: whole examples held out, stratified by label, seeded.

    `groups` (one int per example, indexed by example id) holds out examples that share a
    group together, e.g. the two answers to one contrast prompt: split apart, the prompt they
    share would tie a held-out example to its partner in training."""
    rng = np.random.default_rng(seed)
    example_index = np.asarray(example_index)
    unit_of_row = example_index if groups is None else np.asarray(groups)[example_index]
    units = np.unique(unit_of_row)
    # stratify units by the set of labels they hold: {0}, {1}, or {0, 1} for contrast pairs
    strata: dict[tuple, list] = {}
    for unit in units:
        strata.setdefault(tuple(np.unique(row_labels[unit_of_row == unit])), []).append(unit)
    held = []
    for key in sorted(strata):
        pool = rng.permutation(np.array(strata[key]))
        if len(pool) < 2:
            raise ValueError(f"only {len(pool)} example group(s) with labels {list(key)}; a held-out split needs 2")
        held.append(pool[: min(len(pool) - 1, max(1, round(test_fraction * len(pool))))])
    test = np.isin(unit_of_row, np.concatenate(held))
    for part, name in ((test, "held-out"), (~test, "training")):
        if len(np.unique(row_labels[part])) < 2:
            raise ValueError(f"the {name} rows hold one label only; add examples of both labels")
    return test


def _midpoint_fit(weight: np.ndarray, acts: np.ndarray, labels: np.ndarray) -> LogisticFit:
    proj = acts @ weight
    return LogisticFit(weight, np.float32(-(proj[labels == 1].mean() + proj[labels == 0].mean()) / 2))


def _fit_one(config: SweepConfig, acts: np.ndarray, labels: np.ndarray) -> LogisticFit:
    if config.probe == "logistic":
        return fit_sklearn(acts, labels, C=config.C)
    weight = mean_difference(acts, labels) if config.probe == "mean-diff" else mass_mean_direction(acts, labels)
    return _midpoint_fit(weight, acts, labels)


def layer_sweep(
    layer_acts: Mapping[int, Float[np.ndarray, "rows d_model"]],
    row_labels: Int[np.ndarray, " rows"],
    example_index: Int[np.ndarray, " rows"],
    config: SweepConfig | None = None,
    groups: Int[np.ndarray, " examples"] | None = None,
) -> SweepResult:
    """Probe every layer of `layer_acts` ({layer: [n_rows, d]}) and pick one by `CHOICE_RULE`.
    `groups`: see `split_by_example`."""
    from sklearn.metrics import roc_auc_score

    config = config or SweepConfig()
    layers = sorted(layer_acts)
    test = split_by_example(
        np.asarray(example_index), np.asarray(row_labels), config.test_fraction, config.seed, groups
    )
    y_train, y_test = row_labels[~test], row_labels[test]
    if config.probe == "logistic" and config.backend == "torch":
        stacked = np.stack([layer_acts[layer] for layer in layers])
        batched = fit_batched_torch(stacked[:, ~test], y_train, C=config.C)
        fits = [LogisticFit(batched.weight[i], batched.bias[i]) for i in range(len(layers))]
    else:
        fits = [_fit_one(config, layer_acts[layer][~test], y_train) for layer in layers]
    scores = []
    for layer, fit in zip(layers, fits):
        logits = predict_logits(fit, layer_acts[layer][test])
        scores.append(
            LayerScore(
                layer,
                float(roc_auc_score(y_test, logits)),
                float(((logits > 0) == (y_test == 1)).mean()),
                int((~test).sum()),
                int(test.sum()),
            )
        )
    best = max(s.auroc for s in scores)
    chosen = next(s.layer for s in scores if s.auroc == best)  # scores are in layer order
    return SweepResult(scores, chosen, config)


def sweep_store(
    path: str | Path | ActivationStore,
    layers: Sequence[int] | None = None,
    config: SweepConfig | None = None,
    *,
    allow_partial: bool = False,
) -> SweepResult:
    """`layer_sweep` over the layers of an activation file (a path or an open `ActivationStore`; all
    stored layers by default); held-out examples follow `/examples/group` when the file has it.
    An incomplete file is refused unless `allow_partial=True`."""
    from probes.store import reading

    with reading(path, allow_partial) as store:
        layers = list(layers) if layers is not None else store.acts_layers
        loaded = {layer: store.layer_data(layer) for layer in layers}
        groups = store.groups()
    first = loaded[layers[0]]
    result = layer_sweep(
        {layer: data.acts for layer, data in loaded.items()}, first.row_labels, first.example_index, config, groups
    )
    result.extra["store"] = str(path)
    return result
