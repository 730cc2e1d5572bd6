"""Which rows each process trains on at each step, and how they are padded.

Every process builds the same seeded plan, so a run is the same sequence of global batches
whether it runs as 1 process or N, and a resumed run picks up at its step with no data-loader
state to restore. A global batch of `batch_size` rows is cut into `grad_accum` micro-steps, and
each micro-step's rows are split evenly across processes. The loss is normalised by the number of
supervised tokens in the whole global batch, known to every process in advance, so N processes
sum to exactly the 1-process gradient. The last incomplete batch of an epoch is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interp.finetune.data import IGNORE_INDEX, TokenizedRow
from interp.models.tokens import pad_sequences

__all__ = ["BatchPlan", "collate", "pack"]


@dataclass
class BatchPlan:
    rows: list[TokenizedRow]
    batch_size: int
    """Global rows per optimizer step."""
    grad_accum: int
    world_size: int
    seed: int
    epochs: int
    max_steps: int | None = None

    def __post_init__(self) -> None:
        split = self.grad_accum * self.world_size
        if self.batch_size % split:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of grad_accum x processes = "
                f"{self.grad_accum} x {self.world_size}"
            )
        if len(self.rows) < self.batch_size:
            raise ValueError(f"{len(self.rows)} rows is fewer than one batch of {self.batch_size}")
        self.per_process = self.batch_size // split
        self.steps_per_epoch = len(self.rows) // self.batch_size
        self.total_steps = self.max_steps or self.steps_per_epoch * self.epochs
        # Next-token targets: the label at position t is predicted from position t - 1.
        self._targets = [sum(label != IGNORE_INDEX for label in row.labels[1:]) for row in self.rows]
        self._orders: dict[int, list[int]] = {}

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(len(self.rows), generator=generator).tolist()}
        return self._orders[epoch]

    def global_batch(self, step: int) -> list[int]:
        """Row indices of optimizer step `step` (0-based)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        start = within * self.batch_size
        return self._order(epoch)[start : start + self.batch_size]

    def micro_batch(self, step: int, micro: int, rank: int) -> list[TokenizedRow]:
        indices = self.global_batch(step)
        start = (micro * self.world_size + rank) * self.per_process
        return [self.rows[i] for i in indices[start : start + self.per_process]]

    def target_tokens(self, step: int) -> int:
        """Supervised next-token targets in the whole global batch of `step`."""
        return sum(self._targets[i] for i in self.global_batch(step))

    def tokens(self, step: int) -> int:
        return sum(len(self.rows[i].input_ids) for i in self.global_batch(step))


def collate(rows: list[TokenizedRow], pad_id: int, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Right-pad to the longest row: input_ids, attention_mask, labels (padding labelled IGNORE_INDEX)."""
    ids, mask = pad_sequences([row.input_ids for row in rows], pad_id)
    labels, _ = pad_sequences([row.labels for row in rows], IGNORE_INDEX)
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}


def pack(rows: list[TokenizedRow], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The rows end to end in one sequence, for padding-free training.

    input_ids and position_ids [1, T]: positions restart at 0 with each row, which transformers' masks
    read as separate sequences (block-diagonal causal attention, with no attention_mask and no cache);
    targets [T]: the next token of the same row where it is supervised, IGNORE_INDEX elsewhere (each
    row's last position included), so the loss needs no shift.
    """
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    for row in rows:
        ids += row.input_ids
        positions += range(len(row.input_ids))
        targets += [*row.labels[1:], IGNORE_INDEX]
    as_tensor = lambda values: torch.tensor(values, dtype=torch.long, device=device)  # noqa: E731
    return {
        "input_ids": as_tensor(ids)[None],
        "position_ids": as_tensor(positions)[None],
        "targets": as_tensor(targets),
    }
