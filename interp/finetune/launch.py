"""Fine-tuning in child processes under `accelerate launch` (FSDP, DeepSpeed, several GPUs).

The caller stays a single process; the launched ranks run the same training code as
`interp finetune`, and a LoRA adapter is merged afterwards on the main process (merging a
sharded model inside the ranks is not supported).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from interp.finetune.config import FinetuneConfig

__all__ = ["launch_finetune", "merge_adapter", "LaunchError"]


class LaunchError(RuntimeError):
    """The launched fine-tune exited with an error; the message ends with its stderr."""


def merge_adapter(base: str | Path, adapter_dir: str | Path, out_dir: str | Path, dtype: str | None = None) -> Path:
    """Fold a saved LoRA adapter into its base model and save a full HF folder (with tokenizer)."""
    from peft import PeftModel

    from interp.models import load_model

    lm = load_model(base, dtype=dtype)
    merged = PeftModel.from_pretrained(lm.model, str(adapter_dir)).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out, safe_serialization=True)
    lm.tokenizer.save_pretrained(out)
    return out


def launch_finetune(
    base: str | Path,
    rows: list[dict[str, Any]],
    out_dir: str | Path,
    config: FinetuneConfig,
    accelerate_config: str | Path,
    *,
    dtype: str | None = None,
    launch_args: tuple[str, ...] = (),
) -> Path:
    """Train `rows` on `base` under `accelerate launch --config_file accelerate_config`; return the
    full model folder (`out_dir/merged`). Rerunning resumes from the run's last checkpoint."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "train_rows.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config_path = out / "launch_config.json"
    config_path.write_text(json.dumps({**config.to_dict(), "merge": False}, indent=2))
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config),
        *launch_args,
        "-m",
        "interp.cli",
        "finetune",
        "--model",
        str(base),
        "--data",
        str(data),
        "--out",
        str(out),
        "--config",
        str(config_path),
        "--no-progress",
    ]
    if dtype:
        command += ["--dtype", dtype]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise LaunchError(
            f"accelerate launch exited with {done.returncode}: {' '.join(command)}\n{done.stderr[-4000:]}"
        )
    if config.method == "full":
        return out / "merged"
    return merge_adapter(base, out / "adapter", out / "merged", dtype=dtype)
