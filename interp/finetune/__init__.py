"""Fine-tuning on chat JSONL: LoRA (peft) or full, loss on assistant tokens, one loop for 1..N processes.

    from interp.finetune import FinetuneConfig, finetune
    result = finetune("Qwen/Qwen3-0.6B", "conscious_claiming", "runs/cc", FinetuneConfig())

The package itself is callable as the function, so that `import interp` gives one name for both:
`interp.finetune(model, data, out, interp.finetune.FinetuneConfig(...))`.

Run as N processes with `torchrun --nproc_per_node N -m interp.cli finetune --model ... --data ... --out ...`
or `accelerate launch --config_file experiments/consciousness_cluster/accelerate/fsdp.yaml -m interp.cli finetune ...`.
"""

import sys
import types

from interp.finetune.adapters import expert_parameters, make_trainable
from interp.finetune.config import FinetuneConfig
from interp.finetune.data import (
    IGNORE_INDEX,
    TokenizedRow,
    load_jsonl,
    load_rows,
    resolve_data,
    tokenize_chat,
    tokenize_rows,
)
from interp.finetune.distill import mix_rows, self_distill
from interp.finetune.flops import RunFlops, finetune_flops
from interp.finetune.launch import LaunchError, launch_finetune, merge_adapter
from interp.finetune.train import FinetuneResult, finetune, linear_schedule

__all__ = [
    "IGNORE_INDEX",
    "LaunchError",
    "launch_finetune",
    "merge_adapter",
    "FinetuneConfig",
    "FinetuneResult",
    "RunFlops",
    "TokenizedRow",
    "expert_parameters",
    "finetune",
    "finetune_flops",
    "linear_schedule",
    "load_jsonl",
    "load_rows",
    "make_trainable",
    "mix_rows",
    "resolve_data",
    "self_distill",
    "tokenize_chat",
    "tokenize_rows",
]


class _CallablePackage(types.ModuleType):
    """`interp.finetune(...)` is `interp.finetune.finetune(...)`: the package and the function share a name."""

    def __call__(self, *args, **kwargs) -> FinetuneResult:
        return finetune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
