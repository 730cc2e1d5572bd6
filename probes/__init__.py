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
from probes.link import (
    CorrelationResult,
    LinkResult,
    activation_shift,
    per_example_projection,
    projection_score_link,
    random_directions_like,
    steering_finetune_link,
    variant_shift_link,
)
from probes.logistic import LogisticFit, fit_batched_torch, fit_sklearn, predict_logits
from probes.sae import FeatureScore, SAEAttribution, contrast_features, decoder_alignment, load_sae, sae_attribution
from probes.store import LayerData, list_layers, load_groups, load_layer, store_attrs
from probes.sweep import CHOICE_RULE, LayerScore, SweepConfig, SweepResult, layer_sweep, split_by_example, sweep_store

__all__ = [
    "CHOICE_RULE",
    "CorrelationResult",
    "DIRECTION_METHODS",
    "Direction",
    "FeatureScore",
    "LayerData",
    "LayerScore",
    "LinkResult",
    "LogisticFit",
    "SAEAttribution",
    "SweepConfig",
    "SweepResult",
    "activation_shift",
    "contrast_features",
    "decoder_alignment",
    "direction_from_arrays",
    "direction_from_store",
    "fit_batched_torch",
    "fit_sklearn",
    "layer_sweep",
    "list_layers",
    "load_direction",
    "load_groups",
    "load_layer",
    "load_sae",
    "logistic_direction",
    "mass_mean_direction",
    "mean_difference",
    "mean_difference_from_sums",
    "paired_differences",
    "pca_direction",
    "per_example_projection",
    "predict_logits",
    "projection_score_link",
    "random_directions_like",
    "register_direction_method",
    "sae_attribution",
    "save_direction",
    "split_by_example",
    "steering_finetune_link",
    "store_attrs",
    "sweep_store",
    "variant_shift_link",
]
