"""Each stage's wall time beside its floor: the FLOPs it ran, at this machine's measured matmul peak.

The FLOPs come two ways. The fine-tuning stage's are its training floor (`interp.finetune.flops`: each
variant's steps, forward and backward, each row alone, causal attention), counted from the variant's
rows and settings as `finetune` trains them. Every other stage's are what its marker recorded: the
forward products its linear layers ran (`interp.models.flops.counting_linear_flops`, around the stage
in `Run.run_stage`), a lower bound that leaves out attention's scores and any other process's work. The
peak is measured as the report is written, on the model's own products at a scoring batch's rows and
at a large batch's, the faster kept (`interp.models.peak`), in the model's dtype, and in bfloat16 too
where fine-tuning ran under bf16 autocast. A floor is then a time no implementation on this machine
could beat for the same work; the ratio wall / floor says how much of each stage is overhead (Python,
small products, generation's one-token steps, data loading).

CPU runs only: on a GPU `stage_floors` gives None (the matmul timer is a CPU one).
"""

from __future__ import annotations

import json

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.schema.results import Floors, StageFloor

__all__ = ["PEAK_TOKENS", "stage_floors"]

PEAK_TOKENS = (320, 2048)
"""Rows of the products the peak is timed on: about a scoring batch's or a training step's tokens, and a large
batch's (caching long rows), where a CPU runs the same shapes faster (SmolLM2, 2 AVX2 cores: about 120 against
130 GFLOP/s); the faster is the peak, so that no stage's floor is above what the machine reaches."""


def _linear_flops(run: Run, name: str) -> int | None:
    if not run.done(name):
        return None
    return json.loads(run.marker(name).read_text()).get("linear_flops")


def _finetune_floor(run: Run, lm) -> int:
    from experiments.consciousness_cluster.run.stages.behaviour import training_config, training_rows
    from interp.finetune.flops import finetune_flops

    config = training_config(run)
    return sum(finetune_flops(lm, training_rows(run, v), config).floor for v in run.config.finetune.variants)


def stage_floors(run: Run, stage_seconds: dict[str, float]) -> Floors | None:
    """Each stage of `stage_seconds` (name -> wall seconds) with its FLOPs and their time at the peak;
    None when the model runs on a GPU."""
    import torch

    from interp.finetune.config import uses_bf16
    from interp.models.flops import model_shapes
    from interp.models.peak import matmul_peak, model_products

    lm = run.model("base", run.results("base").model_path)
    if lm.device.type != "cpu":
        return None
    dtype = str(lm.model.dtype).removeprefix("torch.")
    tuned = "bfloat16" if uses_bf16(run.config.finetune.mixed_precision, lm.device) else dtype
    shapes = model_shapes(lm.model)
    products = [model_products(shapes, tokens=rows, backward=True, min_share=0.1) for rows in PEAK_TOKENS]
    peaks = {
        d: max(matmul_peak(p, getattr(torch, d)).flops_per_second for p in products)
        for d in dict.fromkeys([dtype, tuned])
    }
    rows = []
    for name, seconds in stage_seconds.items():
        flops: int | None
        if name == "finetune" and run.done(name):
            flops, counted, used = _finetune_floor(run, lm), "training floor", tuned
        else:
            flops, counted, used = _linear_flops(run, name), "linear forwards", dtype
        floor = None if flops is None else flops / peaks[used]
        rows.append(StageFloor(name, seconds, flops, counted, used, floor))
    return Floors(peaks=peaks, threads=torch.get_num_threads(), stages=rows)
