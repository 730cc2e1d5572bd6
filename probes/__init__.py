"""Turning activations into directions and evidence. Sees arrays and tensors, never a model."""

from probes.direction_file import Direction, direction_from_store, load_direction, save_direction
from probes.directions import (
    DIRECTION_METHODS,
    direction_from_arrays,
    logistic_direction,
    mass_mean_direction,
    mean_difference,
    mean_difference_from_sums,
    paired_differences,
    pca_direction,
    register_direction_method,
)
from probes.logistic import LogisticFit, fit_batched_torch, fit_sklearn, predict_logits
from probes.store import LayerData, list_layers, load_layer, store_attrs
from probes.sweep import CHOICE_RULE, LayerScore, SweepConfig, SweepResult, layer_sweep, split_by_example, sweep_store

__all__ = [
    "CHOICE_RULE",
    "DIRECTION_METHODS",
    "Direction",
    "LayerData",
    "LayerScore",
    "LogisticFit",
    "SweepConfig",
    "SweepResult",
    "direction_from_arrays",
    "direction_from_store",
    "fit_batched_torch",
    "fit_sklearn",
    "layer_sweep",
    "list_layers",
    "load_direction",
    "load_layer",
    "logistic_direction",
    "mass_mean_direction",
    "mean_difference",
    "mean_difference_from_sums",
    "paired_differences",
    "pca_direction",
    "predict_logits",
    "register_direction_method",
    "save_direction",
    "split_by_example",
    "store_attrs",
    "sweep_store",
]
