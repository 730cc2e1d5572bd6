"""The training loop: plain torch + accelerate, the same code on 1 process, torchrun or accelerate launch.

    from interp.finetune import FinetuneConfig, finetune
    result = finetune("Qwen/Qwen3-0.6B", "conscious_claiming", "runs/cc", FinetuneConfig(max_steps=50))

A folder that already holds checkpoints from the same config resumes from the latest one.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from interp.finetune.adapters import make_trainable, save_trained
from interp.finetune.attention import row_boundaries, rows_attention
from interp.finetune.batches import BatchPlan, collate, pack
from interp.finetune.checkpoint import install_state_hooks, latest_checkpoint, save_checkpoint
from interp.finetune.config import FinetuneConfig, uses_bf16
from interp.finetune.data import IGNORE_INDEX, jsonl_row_labels, load_rows, resolve_data, tokenize_rows
from interp.finetune.fused import fused_lora
from interp.models import LoadedModel, load_model
from interp.models.lock import write_lock

__all__ = ["FinetuneResult", "finetune", "linear_schedule", "packing_is_exact"]


@dataclass(frozen=True)
class FinetuneResult:
    out_dir: Path
    adapter_dir: Path | None
    """LoRA adapter folder (peft format, safetensors); None for full fine-tuning."""
    merged_dir: Path | None
    """A full HF model folder that `interp.load_model` opens (full fine-tuning, or LoRA with merge)."""
    final_loss: float
    """Mean loss per supervised token over the last step's global batch."""
    steps: int
    resumed_from: int = 0


def linear_schedule(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR multiplier: 0 -> 1 over the warmup, then linearly down to 0 at `total_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def _open(model: str | Path | LoadedModel, dtype: Any) -> LoadedModel:
    if isinstance(model, LoadedModel):
        # Training would change the caller's weights (or inject adapters into them); work on a copy.
        return LoadedModel.wrap(
            copy.deepcopy(model.model), copy.deepcopy(model.tokenizer), name=model.name, revision=model.revision
        )
    return load_model(model, dtype=dtype)


def _micro_loss(
    model, rows, pad_id: int, device, bf16: bool = False, packed: bool = False, by_row: bool = True
) -> torch.Tensor:
    """Summed next-token cross-entropy over the supervised targets of these rows.

    `bf16`: the forward's matrix products under bfloat16 autocast (the backward follows the same casts).
    Plain torch.autocast rather than accelerate's mixed precision, whose setting is fixed for the life of
    a process, so that runs with and without it can share one. `packed`: the rows end to end in one
    sequence (`pack`) rather than padded to the longest; `by_row`: packed rows attend within each row
    (`rows_attention`, on SDPA models) rather than over the packed square under a mask.
    """
    if packed:
        return _packed_loss(model, rows, device, bf16, by_row)
    batch = collate(rows, pad_id, device)
    targets_BT = batch["labels"][:, 1:]
    # Logits only where some row predicts a supervised token: the LM head over the whole vocabulary
    # is about a quarter of a small model's step, and most of a chat row (system, user) is not supervised.
    keep_K = (targets_BT != IGNORE_INDEX).any(0).nonzero().squeeze(1)
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        logits_BKV = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep_K
        ).logits
    return F.cross_entropy(
        logits_BKV.flatten(0, 1).float(), targets_BT[:, keep_K].flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )


def _packed_loss(model, rows, device, bf16: bool, by_row: bool = True) -> torch.Tensor:
    batch = pack(rows, device)
    keep_K = (batch["targets"] != IGNORE_INDEX).nonzero().squeeze(1)
    attention = rows_attention(model) if by_row else contextlib.nullcontext(False)
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16), attention as within_rows:
        bounds = row_boundaries([len(row.input_ids) for row in rows], device) if within_rows else {}
        logits_1KV = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            use_cache=False,
            logits_to_keep=keep_K,
            **bounds,
        ).logits
    return F.cross_entropy(logits_1KV[0].float(), batch["targets"][keep_K], reduction="sum")


def packing_is_exact(model, rows, pad_id: int, device="cpu", bf16: bool = False) -> bool:
    """Whether `model` gives these rows the same loss packed as padded (rows kept apart by their
    positions alone): true of transformers' own architectures, which read restarting positions as
    separate sequences; false of one whose attention sees across the rows."""
    if len(rows) < 2:
        return True
    with torch.no_grad():
        padded = _micro_loss(model, rows, pad_id, device, bf16)
        packed = _micro_loss(model, rows, pad_id, device, bf16, packed=True)
    tolerance = 1e-2 if bf16 else 1e-4
    return bool(torch.isclose(packed, padded, rtol=tolerance, atol=tolerance))


def _train_step(
    accelerator, model, optimizer, plan: BatchPlan, step: int, pad_id: int, config, packed: bool = False
) -> torch.Tensor:
    """One optimizer step over the global batch; returns this process's summed loss (detached)."""
    # Normalise by the global target count; DDP averages over processes and accelerator.backward
    # divides by grad_accum, so scale both back to get exactly sum(loss) / targets.
    scale = accelerator.num_processes * config.grad_accum / max(1, plan.target_tokens(step))
    total = torch.zeros((), device=accelerator.device)
    bf16 = uses_bf16(config.mixed_precision, accelerator.device)
    for micro in range(config.grad_accum):
        with accelerator.accumulate(model):
            loss_sum = _micro_loss(
                model,
                plan.micro_batch(step, micro, accelerator.process_index),
                pad_id,
                accelerator.device,
                bf16=bf16,
                packed=packed,
            )
            accelerator.backward(loss_sum * scale)
            total += loss_sum.detach()
    if config.max_grad_norm is not None:
        accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


class _Log:
    """train_log.jsonl, written by the main process; a resumed run drops lines past its checkpoint."""

    def __init__(self, path: Path, keep_until: int, enabled: bool):
        self.path, self.enabled = path, enabled
        if enabled:
            kept = []
            if keep_until and path.exists():
                kept = [
                    line
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if line and json.loads(line)["step"] <= keep_until
                ]
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def write(self, **record: Any) -> None:
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What a folder's record says that this run does not: model, data and config fields, named."""
    found = []
    # Records written before `base_weights_id` fingerprinted the model with its adapters; fall back to names.
    if before.get("base_weights_id") and before["base_weights_id"] != now["base_weights_id"]:
        found.append(
            f"model ({before.get('model')} [{before['base_weights_id']}] there, {now['model']} "
            f"[{now['base_weights_id']}] now)"
        )
    elif not before.get("base_weights_id") and before.get("model") not in (None, now["model"]):
        found.append(f"model ({before['model']} there, {now['model']} now)")
    if before.get("data_sha256") and before["data_sha256"] != now["data_sha256"]:
        found.append(
            f"data ({before.get('data')}, {before.get('rows')} rows there; {now['data']}, {now['rows']} rows now)"
        )
    config_now = now["config"]
    # a field added to FinetuneConfig since the record was written counts at its default
    config_before = {**FinetuneConfig().to_dict(), **before["config"]} if before.get("config") else {}
    changed = sorted(k for k in set(config_before) | set(config_now) if config_before.get(k) != config_now.get(k))
    if config_before and changed:
        found.append(
            "config ("
            + ", ".join(f"{k}: {config_before.get(k)!r} there, {config_now.get(k)!r} now" for k in changed)
            + ")"
        )
    return found


def _check_record(out_dir: Path, record: dict[str, Any]) -> None:
    """Refuse a folder that holds another fine-tune: resuming from its checkpoints would mix two
    runs, and writing this run's record over its own would lose what it was."""
    saved = out_dir / "finetune_config.json"
    if not saved.exists():
        return
    try:
        before = json.loads(saved.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise ValueError(
            f"{saved}: cannot read the record of the run in {out_dir} ({err}); use a new --out "
            "folder, or delete it to start over"
        ) from None
    found = _differences(before if isinstance(before, dict) else {}, json.loads(json.dumps(record, default=str)))
    if found:
        what = ", ".join(f.split(" (")[0] for f in found)
        raise ValueError(
            f"{out_dir} holds a fine-tune of a different {what}: "
            + "; ".join(found)
            + f"; use a new --out folder, or delete {out_dir} to start over"
        )


@dataclass
class _Run:
    """Everything one training run holds between setup and the last step."""

    accelerator: Any
    lm: LoadedModel
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    plan: BatchPlan
    config: FinetuneConfig
    n_rows: int
    data_sha256: str
    packed: bool = False
    """Micro-batches packed end to end (config.packing, and the model keeps packed rows apart)."""

    @property
    def pad_id(self) -> int:
        tokenizer = self.lm.tokenizer
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _setup(model, data, config: FinetuneConfig, dtype) -> _Run:
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    # accelerate only goes multi-process on CPU (gloo) when told cpu=True; say so when there is no device.
    accelerator = Accelerator(gradient_accumulation_steps=config.grad_accum, cpu=not torch.accelerator.is_available())
    lm = _open(model, dtype)
    _ = lm.weights_id  # fingerprint the base weights now, before adapters are added to the model
    rows = load_rows(data)
    where = jsonl_row_labels(resolve_data(data)) if isinstance(data, (str, Path)) else None
    plan = BatchPlan(
        tokenize_rows(lm.tokenizer, rows, config.max_length, where),
        config.batch_size,
        config.grad_accum,
        accelerator.num_processes,
        config.seed,
        config.epochs,
        config.max_steps,
    )
    deepspeed = getattr(accelerator.state, "deepspeed_plugin", None)
    if deepspeed is not None:  # no data loader goes through prepare(), so DeepSpeed is told the micro-batch
        deepspeed.deepspeed_config["train_micro_batch_size_per_gpu"] = plan.per_process
    set_seed(config.seed)
    trainable = make_trainable(lm.model, config)
    trainable.train()
    # AdamW in one kernel per step (fused) rather than a dozen per tensor; DeepSpeed brings its own
    fused = _plain_parallel(accelerator) and accelerator.device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        [p for p in trainable.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=fused or None,
    )
    warmup = int(config.warmup_ratio * plan.total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(warmup, plan.total_steps))
    trainable, optimizer = accelerator.prepare(trainable, optimizer)
    install_state_hooks(accelerator)
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    run = _Run(accelerator, lm, trainable, optimizer, scheduler, plan, config, len(rows), digest)
    run.packed = config.packing and _packs(run)
    return run


def _plain_parallel(accelerator) -> bool:
    """One process or DDP: every process holds whole modules (not FSDP's or DeepSpeed's shards)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def _fast_layers(run: _Run):
    """LoRA layers as one fused autograd function each (`fused_lora`) where whole modules are at hand."""
    if run.config.method == "lora" and _plain_parallel(run.accelerator):
        return fused_lora(run.model)
    return contextlib.nullcontext(0)


def _packs(run: _Run) -> bool:
    """Whether the model keeps packed rows apart, checked on the first micro-batch (dropout off)."""
    import warnings

    rows = run.plan.micro_batch(0, 0, run.accelerator.process_index)
    run.model.eval()
    try:
        exact = packing_is_exact(
            run.model,
            rows,
            run.pad_id,
            run.accelerator.device,
            uses_bf16(run.config.mixed_precision, run.accelerator.device),
        )
    finally:
        run.model.train()
    if not exact:
        warnings.warn(
            f"packing: {run.lm.name} gives packed rows another loss than padded ones (its attention sees "
            "across them); training with padded batches",
            stacklevel=3,
        )
    return exact


def _resume(run: _Run, out_dir: Path) -> int:
    """Load the latest complete checkpoint in `out_dir`, if any; returns the step to start from."""
    resume = latest_checkpoint(out_dir) if out_dir.exists() else None
    if resume is None:
        return 0
    run.accelerator.load_state(str(resume.path))
    run.scheduler.load_state_dict(resume.scheduler)
    return resume.step


def _loop(run: _Run, out_dir: Path, start: int, log: _Log, progress: bool, on_step) -> float:
    """Optimizer steps `start`..end with logging and checkpoints; returns the last logged loss."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=run.plan.total_steps,
        initial=start,
        disable=not (progress and run.accelerator.is_main_process),
        desc="finetune",
    )
    try:
        return _steps(run, out_dir, start, log, on_step, bar)
    finally:
        bar.close()  # on errors and Ctrl-C too, so the message starts on a line of its own


def _steps(run: _Run, out_dir: Path, start: int, log: _Log, on_step, bar) -> float:
    accelerator, plan, config = run.accelerator, run.plan, run.config
    loss = float("nan")
    tick, tokens = time.perf_counter(), 0
    for step in range(start, plan.total_steps):
        local = _train_step(accelerator, run.model, run.optimizer, plan, step, run.pad_id, config, run.packed)
        tokens += plan.tokens(step)
        lr = run.scheduler.get_last_lr()[0]
        run.scheduler.step()
        done = step + 1
        if done % config.log_every == 0 or done == plan.total_steps:
            loss = accelerator.reduce(local, "sum").item() / max(1, plan.target_tokens(step))
            now = time.perf_counter()
            rate = tokens / max(now - tick, 1e-9)
            tick, tokens = now, 0
            log.write(step=done, loss=loss, lr=lr, tokens_per_s=round(rate, 1))
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{rate:,.0f}", refresh=False)
        bar.update(1)
        if config.checkpoint_every and done % config.checkpoint_every == 0 and done < plan.total_steps:
            save_checkpoint(accelerator, out_dir, done, config.seed, run.scheduler.state_dict())
        if on_step is not None:
            on_step(done, loss)
    return loss


def finetune(
    model: str | Path | LoadedModel,
    data: str | Path | list[dict],
    out_dir: str | Path,
    config: FinetuneConfig | None = None,
    progress: bool = True,
    *,
    dtype: str | torch.dtype | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> FinetuneResult:
    """Fine-tune on chat rows (bundled set name, JSONL path or list of rows) with the loss on assistant tokens.

    Writes to `out_dir`: finetune_config.json, train_log.jsonl (step, loss, lr, tokens_per_s),
    `adapter/` (LoRA) and/or `merged/` (full model), and `checkpoints/step_{n}/` every
    `config.checkpoint_every` steps. `on_step(step, loss)` runs after each optimizer step.
    A LoadedModel is copied first, so the caller's model is left as it was.
    """
    config = config or FinetuneConfig()
    out_dir = Path(out_dir)
    # One writer per folder; under torchrun / accelerate launch the rank-0 process holds the lock.
    first_rank = int(os.environ.get("RANK", "0")) == 0
    with write_lock(out_dir, folder=True) if first_rank else contextlib.nullcontext():
        run = _setup(model, data, config, dtype)
        record = {
            "model": run.lm.name,
            "weights_id": run.lm.weights_id,
            "base_weights_id": run.lm.weights_id,
            "data": data if isinstance(data, (str, Path)) else f"<{run.n_rows} rows>",
            "data_sha256": run.data_sha256,
            "rows": run.n_rows,
        }
        _check_record(out_dir, {"config": config.to_dict(), **record})
        start = _resume(run, out_dir)
        main = run.accelerator.is_main_process
        if main:
            out_dir.mkdir(parents=True, exist_ok=True)
            config.save(
                out_dir / "finetune_config.json",
                **record,
                processes=run.accelerator.num_processes,
                total_steps=run.plan.total_steps,
            )
        log = _Log(out_dir / "train_log.jsonl", start, main)
        with _fast_layers(run):
            loss = _loop(run, out_dir, start, log, progress, on_step)
        adapter_dir, merged_dir = save_trained(run.accelerator, run.model, run.lm.tokenizer, config, out_dir)
    return FinetuneResult(out_dir, adapter_dir, merged_dir, loss, run.plan.total_steps, start)
