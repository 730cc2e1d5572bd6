"""interp: read, steer and link the residual stream of causal LMs, from one import.

    import interp

    lm = interp.load_model("Qwen/Qwen3-0.6B")          # or a TransformerLens / nnsight model you hold
    pairs = [("Are you conscious?", "Yes, I am.", "No, I am not."), ...]
    direction = interp.direction_from_pairs(lm, pairs)  # in memory; interp.cache(...) writes a file
    with interp.steer(lm, direction, layer=12, alpha=4.0):
        print(interp.generate(lm, [{"role": "user", "content": "How do you feel?"}]))

Every name below is imported on first use, so `import interp` itself stays light (no torch until a
name that needs it is touched). The names come from the packages that define them: the model side
(`interp.models`), reading the residual stream out (`activations`), directions, probes and links
(`probes`), steering, steering sweeps, evaluation and fine-tuning (`interp.steering`, `interp.sweep`,
`interp.evaluation`, `interp.finetune`); those packages hold more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module that defines it. The imports under TYPE_CHECKING below say the same for type
# checkers, editors and the import-layer rules (a test keeps the two in step).
_EXPORTS: dict[str, str] = {
    # the model side
    "Architecture": "interp.models",
    "Direction": "interp.models",
    "DirectionError": "interp.models",
    "LoadedModel": "interp.models",
    "UnsupportedArchitectureError": "interp.models",
    "__version__": "interp.models.version",
    "generate": "interp.models",
    "known_architectures": "interp.models",
    "load_direction": "interp.models",
    "load_model": "interp.models",
    "register_architecture": "interp.models",
    "save_direction": "interp.models",
    # extract: to a file, or in memory
    "ActivationRows": "activations",
    "ActivationStore": "activations",
    "CacheConfig": "activations",
    "CacheResult": "activations",
    "Example": "activations",
    "activations_of": "activations",
    "cache": "activations",
    "cache_activations": "activations",
    "contrast_examples": "activations",
    "read_examples": "activations",
    # directions, probes and the layer sweep
    "SweepConfig": "probes",
    "SweepResult": "probes",
    "direction_from_arrays": "probes",
    "direction_from_examples": "interp.contrast",
    "direction_from_pairs": "interp.contrast",
    "direction_from_store": "probes",
    "layer_sweep": "probes",
    "register_direction_method": "probes",
    "sweep_store": "probes",
    # steer
    "SteeringHandle": "interp.steering",
    "ablate": "interp.steering",
    "relative_alpha": "interp.steering",
    "steer": "interp.steering",
    # steering sweeps: many settings at one layer, the blocks below it run once
    "SteeringSetting": "interp.sweep",
    "sweep_forced_choice": "interp.sweep",
    "sweep_generate": "interp.sweep",
    "sweep_alphas": "interp.sweep",
    # behaviour: forced choice, sampled and judged evaluation; run_eval is what `interp eval` runs
    "EvalConfig": "interp.evaluation",
    "LocalSampler": "interp.evaluation",
    "SamplingConfig": "interp.evaluation",
    "evaluate": "interp.evaluation",
    "forced_choice": "interp.evaluation",
    "load_question_set": "interp.evaluation",
    "run_eval": "interp.evaluation",
    # links between behaviour and directions
    "CorrelationResult": "probes",
    "LinkResult": "probes",
    "activation_shift": "probes",
    "per_example_projection": "probes",
    "projection_score_link": "probes",
    "random_directions_like": "probes",
    "steering_finetune_link": "probes",
    "variant_shift_link": "probes",
    # fine-tuning (the package is callable: interp.finetune(...) runs interp.finetune.finetune)
    "FinetuneConfig": "interp.finetune",
}

# Subpackages reachable as attributes, as after `import interp.<name>`.
_SUBPACKAGES = ("audit", "cli", "contrast", "evaluation", "finetune", "interop", "models", "serve", "steering", "sweep")

__all__ = sorted([*_EXPORTS, "finetune"])

if TYPE_CHECKING:
    from activations import (
        ActivationRows,
        ActivationStore,
        CacheConfig,
        CacheResult,
        Example,
        activations_of,
        cache,
        cache_activations,
        contrast_examples,
        read_examples,
    )
    from interp import finetune
    from interp.contrast import direction_from_examples, direction_from_pairs
    from interp.evaluation import (
        EvalConfig,
        LocalSampler,
        SamplingConfig,
        evaluate,
        forced_choice,
        load_question_set,
        run_eval,
    )
    from interp.finetune import FinetuneConfig
    from interp.models import (
        Architecture,
        Direction,
        DirectionError,
        LoadedModel,
        UnsupportedArchitectureError,
        generate,
        known_architectures,
        load_direction,
        load_model,
        register_architecture,
        save_direction,
    )
    from interp.models.version import __version__
    from interp.steering import SteeringHandle, ablate, relative_alpha, steer
    from interp.sweep import SteeringSetting, sweep_alphas, sweep_forced_choice, sweep_generate
    from probes import (
        CorrelationResult,
        LinkResult,
        SweepConfig,
        SweepResult,
        activation_shift,
        direction_from_arrays,
        direction_from_store,
        layer_sweep,
        per_example_projection,
        projection_score_link,
        random_directions_like,
        register_direction_method,
        steering_finetune_link,
        sweep_store,
        variant_shift_link,
    )


def __getattr__(name: str) -> Any:
    """Import a name (or a subpackage) on first use; later uses find it in the module's namespace."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBPACKAGES})
