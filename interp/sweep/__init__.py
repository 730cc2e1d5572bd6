"""Steering sweeps at about the cost of one forward pass: the blocks below the steering layer run once.

Steering at layer L adds `alpha * v` to the output of block L, so blocks 0..L compute the same for
every setting of a sweep (alphas, control directions, a null of random directions). A sweep runs
them once, in the plain unsteered run, and runs only the blocks above L per setting, the settings
stacked as rows of one batch (`replay` says how, `interp.evaluation.stacking` what the procedures
do with stacked copies). The results equal one plain steered run per setting (`with steer(...):`)
within float rounding; the unsteered settings take the plain run's results as they are.

    from interp.sweep import SteeringSetting, sweep_forced_choice
    settings = [SteeringSetting(v, alpha, f"alpha_{alpha:g}") for alpha in (0, 2, 4)]
    settings += [SteeringSetting(r, 4.0, f"random_{i}") for i, r in enumerate(randoms)]
    scores = sweep_forced_choice(lm, question_set, layer=20, settings=settings)   # {name: [ChoiceScore]}

`sweep_alphas` answers which strengths still give coherent text (greedy answers at each alpha, each
measured against the unsteered ones with interp.evaluation.coherence).
"""

from interp.sweep.ablation import ablation_forced_choice
from interp.sweep.alphas import AlphaPoint, sweep_alphas
from interp.sweep.choice import sweep_forced_choice
from interp.sweep.core import SteeringSetting
from interp.sweep.generate import sweep_generate
from interp.sweep.runs import SweepRun, sweep_eval

__all__ = [
    "AlphaPoint",
    "SteeringSetting",
    "SweepRun",
    "ablation_forced_choice",
    "sweep_alphas",
    "sweep_eval",
    "sweep_forced_choice",
    "sweep_generate",
]
