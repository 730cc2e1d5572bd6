"""Activations in memory, for jobs small enough to hold: the rows `cache_activations` writes, as arrays.

`activations_of` takes the same examples, layer spec and positions rules as the file path and runs
the same batches (windows of `commit_every` examples, sorted by length inside each), so its rows
are the ones a float32 file holds, bit for bit. `ActivationRows` reads like an `ActivationStore`
(`layers`, `n_rows`, `acts`, `example_index`, `positions`, `labels`, `layer_data`, `groups`, `attrs`),
so the probes' readers (`direction_from_store`, `sweep_store`, `load_layer`) take either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import torch
from jaxtyping import Float, Int

from activations.batching import collate, plan_batches, plan_windows
from activations.cache import CacheConfig, _check_inputs, _encode, forward_batch
from activations.examples import as_examples
from activations.layers import parse_layers
from activations.positions import POSITION_RULES, apply_rule
from activations.schema import StoreFormatError
from activations.store import LayerData

__all__ = ["ActivationRows", "activations_of"]


@dataclass(frozen=True, eq=False)
class ActivationRows:
    """Residual-stream rows of some layers, in memory; read as an `ActivationStore` is."""

    rows: dict[int, Float[np.ndarray, "rows d_model"]]
    """float32 rows per layer, in example order, positions ascending within an example"""
    example_index: Int[np.ndarray, " rows"]
    """int64 example of each row (its index among the examples given)"""
    positions: Int[np.ndarray, " rows"]
    """int32 token position of each row inside its example (-1 for a response mean)"""
    labels: Int[np.ndarray, " examples"] | None = None
    """int64 label per example (-1 unlabelled); None when no example has one"""
    example_groups: Int[np.ndarray, " examples"] | None = None
    """int64 group per example (-1 none); None when no example has one"""
    attrs: dict[str, Any] = field(default_factory=dict)
    """what a file's root attributes would say: model, weights_id, layers, positions"""

    @property
    def layers(self) -> list[int]:
        """The layers held, ascending."""
        return sorted(self.rows)

    acts_layers = layers

    @property
    def n_rows(self) -> int:
        return int(self.example_index.shape[0])

    @property
    def row_labels(self) -> Int[np.ndarray, " rows"] | None:
        """The label of each row's example."""
        return None if self.labels is None else self.labels[self.example_index]

    @overload
    def acts(
        self, layer: int, rows: slice | np.ndarray | None = None, as_torch: Literal[False] = False
    ) -> Float[np.ndarray, "n d_model"]: ...

    @overload
    def acts(
        self, layer: int, rows: slice | np.ndarray | None = None, *, as_torch: Literal[True]
    ) -> Float[torch.Tensor, "n d_model"]: ...

    @overload
    def acts(
        self, layer: int, rows: slice | np.ndarray | None = None, as_torch: bool = False
    ) -> Float[np.ndarray, "n d_model"] | Float[torch.Tensor, "n d_model"]: ...

    def acts(
        self, layer: int, rows: slice | np.ndarray | None = None, as_torch: bool = False
    ) -> Float[np.ndarray, "n d_model"] | Float[torch.Tensor, "n d_model"]:
        """Rows of one layer, `[n, d_model]` float32; a slice or index array picks some."""
        if layer not in self.rows:
            raise KeyError(f"layer {layer} is not held; these rows hold layers {self.layers}")
        values = self.rows[layer] if rows is None else self.rows[layer][rows]
        return torch.from_numpy(values) if as_torch else values

    def groups(self) -> Int[np.ndarray, " examples"] | None:
        """The group of each example (held out together by the layer sweep), None when none was given."""
        return self.example_groups

    def layer_data(self, layer: int) -> LayerData:
        """One layer's rows with each row's label and example: what directions and probes read."""
        if self.labels is None:
            raise StoreFormatError(
                "these activations have no labels: give each example a label (1 or 0), or "
                "contrast pairs, to compute directions or probes from them"
            )
        return LayerData(self.acts(layer), self.labels[self.example_index], self.example_index)


def _optional(values: list[int | None]) -> np.ndarray | None:
    if all(value is None for value in values):
        return None
    return np.array([-1 if value is None else value for value in values], dtype=np.int64)


@torch.no_grad()
def activations_of(
    lm,
    examples,
    layers: str | int | list[int] = "all",
    positions: str = "all",
    *,
    batch_size: int = 8,
    max_tokens_per_batch: int | None = None,
    truncate: bool = False,
) -> ActivationRows:
    """The residual-stream rows of `examples` at `layers` and `positions`, in memory.

    `examples`: anything `as_examples` takes (prompt strings, chats, `Example`s, dicts,
    (prompt, positive answer, negative answer) tuples, a JSONL path). `layers` in the layer grammar
    ("all", 3, "0,4,8", "-4:", ...); `positions` one of `POSITION_RULES` (all, last, response,
    response-mean). For many examples, write a file instead: `cache`.

    >>> rows = interp.activations_of(lm, ["The sky is", "Grass is"], layers=-1, positions="last")  # doctest: +SKIP
    >>> rows.acts(lm.n_layers - 1).shape                                                          # doctest: +SKIP
    (2, 4096)
    """
    config = CacheConfig(
        layers=layers,
        positions=positions,  # type: ignore[arg-type]
        batch_size=batch_size,
        max_tokens_per_batch=max_tokens_per_batch,
        truncate=truncate,
    )
    examples = as_examples(examples)
    _check_inputs(examples, config)
    chosen = parse_layers(config.layers, lm.n_layers)
    encoded = _encode(lm, examples, config)
    rule = POSITION_RULES[config.positions]
    lengths = [len(e.ids) for e in encoded]
    per_example: dict[int, list] = {layer: [None] * len(examples) for layer in chosen}
    position_of: list = [None] * len(examples)
    for window in plan_windows(0, len(examples), config.commit_every):
        for indices in plan_batches(window, lengths, config.batch_size, config.max_tokens_per_batch):
            batch = collate(indices, encoded, lm.tokenizer.pad_token_id, lm.tokenizer.padding_side)
            hidden, select_BS = forward_batch(lm, batch, chosen, rule)
            counts = [1] * len(indices) if rule.mean else select_BS.sum(-1).tolist()
            for layer in chosen:
                hidden_BSD, mask_BS = apply_rule(rule, hidden[layer], select_BS.to(hidden[layer].device))
                rows_ND = hidden_BSD[mask_BS].to("cpu", torch.float32).numpy()
                for example, rows in zip(indices, np.split(rows_ND, np.cumsum(counts)[:-1])):
                    per_example[layer][example] = rows
            picked = (
                [np.full(1, -1)] * len(indices)
                if rule.mean  # a mean row has no one position
                else np.split(batch.position_ids_BS[select_BS].numpy(), np.cumsum(counts)[:-1])
            )
            for example, positions_of_example in zip(indices, picked):
                position_of[example] = positions_of_example
    counts_per_example = [len(rows) for rows in per_example[chosen[0]]]
    return ActivationRows(
        rows={layer: np.concatenate(per_example[layer]).astype(np.float32, copy=False) for layer in chosen},
        example_index=np.repeat(np.arange(len(examples), dtype=np.int64), counts_per_example),
        positions=np.concatenate(position_of).astype(np.int32),
        labels=_optional([e.label for e in examples]),
        example_groups=_optional([e.group for e in examples]),
        attrs={
            "model": lm.name,
            "weights_id": lm.weights_id,
            "layers": chosen,
            "positions": config.positions,
            "n_examples": len(examples),
            "d_model": lm.d_model,
        },
    )
