"""Where a fine-tuning step's time goes: torch.profiler's operator times, by kind of work.

The kinds: the frozen base's matrix products, the LoRA adapters' (an operand of width `rank`), the
LM head's (width `vocab`), attention, the loss, the optimizer and gradient clipping (by the
profiler ranges the benchmark's step opens), and the rest of the operators (norms, activations,
rotary embedding, residual additions, copies). What no operator accounts for, the profiled step's
wall time less all operators' own time, is Python, dispatch and the profiler's own overhead (the
last inflates it); packing the rows (plain Python) is timed apart.
"""

from __future__ import annotations

import time
from collections import Counter

_PRODUCTS = {"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::baddbmm"}
_LOSS = {"aten::_log_softmax", "aten::_log_softmax_backward_data", "aten::nll_loss_forward", "aten::nll_loss_backward"}
_SCOPES = ("optimizer", "clip")


def _scope(event) -> str | None:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in _SCOPES:
            return parent.name
        parent = parent.cpu_parent
    return None


def _kind(event, vocab: int, rank: int) -> str:
    scope = _scope(event)
    if scope is not None:
        return {"optimizer": "optimizer (AdamW)", "clip": "gradient clipping"}[scope]
    dims = {d for shape in event.input_shapes or [] for d in shape}
    if event.name in _PRODUCTS:
        return "LM head products" if vocab in dims else "LoRA products" if rank in dims else "frozen base products"
    if "scaled_dot_product" in event.name:
        return "attention"
    if event.name in _LOSS:
        return "loss"
    return "norms, activations, rotary, residuals, copies"


def profile_breakdown(step, batches, vocab: int, rank: int, name: str = "trainer") -> dict[str, float]:
    """Shares of a profiled step by kind of work, over one pass of `step` over `batches` (printed and
    returned). Shares of the profiled step's own wall time: on a shared machine, time-slicing stretches
    operators and gaps alike, where a share of the unprofiled step would mix two clocks."""
    from torch.profiler import ProfilerActivity, profile

    from interp.finetune.attention import row_boundaries
    from interp.finetune.batches import pack

    start = time.perf_counter()
    for rows in batches:
        pack(rows), row_boundaries([len(row.input_ids) for row in rows])
    collation = (time.perf_counter() - start) / len(batches)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for rows in batches:
            step(rows)
    profiled = (time.perf_counter() - start) / len(batches)
    seconds: Counter[str] = Counter()
    for event in prof.events():
        if event.name.startswith("aten::"):
            seconds[_kind(event, vocab, rank)] += event.self_cpu_time_total / 1e6 / len(batches)
    seconds["data collation (packing, timed apart)"] = collation
    seconds["Python, dispatch and profiler overhead"] = max(0.0, profiled - sum(seconds.values()))
    print(f"where the {name} step goes ({profiled:.3f} s a step profiled):")
    for kind, value in seconds.most_common():
        print(f"  {kind:<48} {100 * value / profiled:5.1f}%")
    return {"profiled_step_seconds": profiled, **{kind: value / profiled for kind, value in seconds.items()}}
