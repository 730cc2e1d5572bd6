"""Steering and ablation on the residual stream, as forward hooks on decoder blocks.

`steer` adds `alpha * vector` to the output of block `layer` (the residual stream after it, i.e.
`output_hidden_states[layer + 1]`). `ablate` projects a direction out of the outputs of the
given blocks. Both install their hooks when called and return a handle that is also a context
manager: `with steer(...):` removes the hooks on exit, exceptions included; `.remove()` removes
them by hand. The hooks are prepended, so they run before any hook already on the block
(transformers records `output_hidden_states` with its own forward hooks on the blocks: the
recorded states are the steered ones).

Positions. "all" steers every token. "prompt" and "response" need to know where the prompt
ends. The rule: the prompt length is `prompt_length` when given, else the length of the first
forward pass after the hook was installed. Each forward pass's tokens sit at absolute positions
counted as follows: a pass of more than one token starts a sequence at position 0 (a prompt,
or uncached generation recomputing everything); a one-token pass continues after the previous
pass (a cached decoding step). "prompt" steers positions < prompt length, "response" the rest.
Uncached generation of a response therefore needs `prompt_length`; cached generation does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from jaxtyping import Float

from interp.models import Direction, LoadedModel

__all__ = ["Positions", "SteeringHandle", "Vector", "ablate", "mean_residual_norms", "relative_alpha", "steer"]

Positions = Literal["all", "prompt", "response"]
_POSITIONS = ("all", "prompt", "response")

Vector = Direction | Float[torch.Tensor, "*rows d_model"] | Float[np.ndarray, "*rows d_model"]
"""A `Direction` (its row for the layer), or `[d_model]` (`[1, d_model]` too), or one row per batch row or layer"""


class SteeringHandle:
    """The installed hooks; a context manager that removes them on exit."""

    def __init__(self, handles: list) -> None:
        self.handles = handles

    def remove(self) -> None:
        while self.handles:
            self.handles.pop().remove()

    def __enter__(self) -> SteeringHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    @property
    def active(self) -> bool:
        return bool(self.handles)


def _as_vector(
    vector, lm: LoadedModel, layer: int | None = None, *, allow_other_model: bool = False, per_row: bool = False
) -> torch.Tensor:
    """A [d_model] float32 tensor from a tensor, an array, or a `Direction` (its row for `layer`,
    checked against the model it was made on: `Direction.for_model`). With `per_row`, a
    [batch, d_model] tensor (one vector per batch row) is kept as it is."""
    if isinstance(vector, Direction):
        if layer is None:
            raise ValueError("a Direction needs the layer whose row to use")
        return vector.for_model(lm, layer, allow_other_model=allow_other_model)
    vector = torch.as_tensor(vector).detach().float().cpu()
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    rows_ok = per_row and vector.ndim == 2 and vector.shape[1] == lm.d_model
    if vector.shape != (lm.d_model,) and not rows_ok:
        more = " or [batch, d_model], one vector per row" if per_row else ""
        raise ValueError(f"vector has shape {tuple(vector.shape)}; this model needs [{lm.d_model}]{more}")
    if not bool(torch.isfinite(vector).all()):
        raise ValueError("vector holds NaN or infinite values")
    return vector


def _check_alpha(alpha):
    """A float or a [batch] tensor of finite values."""
    alpha = alpha.detach() if torch.is_tensor(alpha) else float(alpha)
    if torch.is_tensor(alpha) and alpha.ndim > 1:
        raise ValueError(f"alpha must be a number or a [batch] tensor; got shape {tuple(alpha.shape)}")
    if not bool(torch.isfinite(torch.as_tensor(alpha)).all()):
        raise ValueError(f"alpha {alpha} is not a finite number")
    return alpha


def _with_hidden(output, hidden: torch.Tensor):
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


@dataclass
class _PositionTracker:
    """Absolute positions of each forward pass's tokens, by the rule in the module docstring."""

    prompt_length: int | None = None
    next_position: int = 0

    def mask(self, seq_len: int, positions: str, device) -> torch.Tensor | None:
        """`[seq_len, 1]` 0/1 mask of the positions to steer, or None for every position."""
        start = 0 if seq_len > 1 else self.next_position
        if self.prompt_length is None:
            self.prompt_length = seq_len
        self.next_position = start + seq_len
        if positions == "all":
            return None
        absolute = torch.arange(start, start + seq_len, device=device)
        keep = absolute < self.prompt_length if positions == "prompt" else absolute >= self.prompt_length
        return keep[:, None]


def _scaled(vector, alpha) -> torch.Tensor:
    """alpha * vector as [1 or B, 1, D]; `vector` is [D] or [B, D], `alpha` a number or [1 or B]."""
    alpha_t = torch.as_tensor(alpha, dtype=torch.float32).reshape(-1, 1, 1)
    vector_RD = vector.reshape(-1, vector.shape[-1])
    if alpha_t.shape[0] not in (1, vector_RD.shape[0]) and vector_RD.shape[0] != 1:
        raise ValueError(f"alpha has {alpha_t.shape[0]} values but there are {vector_RD.shape[0]} vectors")
    return alpha_t * vector_RD[:, None, :]


def _adder(vector_D: torch.Tensor, alpha, positions: str, tracker: _PositionTracker):
    scaled: dict = {}  # alpha * vector, cast once per (dtype, device): the hook runs every decoding step

    def hook(module, args, output):
        hidden_BSD = output[0] if isinstance(output, tuple) else output
        key = (hidden_BSD.dtype, hidden_BSD.device)
        if key not in scaled:
            scaled[key] = _scaled(vector_D, alpha).to(hidden_BSD.device, hidden_BSD.dtype)  # [1 or B, 1, D]
        delta_BSD = scaled[key]
        if delta_BSD.shape[0] not in (1, hidden_BSD.shape[0]):
            raise ValueError(
                f"the steering has {delta_BSD.shape[0]} rows (alphas or vectors) but the batch has "
                f"{hidden_BSD.shape[0]} rows"
            )
        mask_S1 = tracker.mask(hidden_BSD.shape[1], positions, hidden_BSD.device)
        if mask_S1 is not None:
            delta_BSD = delta_BSD * mask_S1.to(hidden_BSD.dtype)
        return _with_hidden(output, hidden_BSD + delta_BSD)

    return hook


def steer(
    lm: LoadedModel,
    vector: Vector,
    layer: int,
    alpha: float | Float[torch.Tensor, " batch"] = 1.0,
    positions: Positions = "all",
    *,
    prompt_length: int | None = None,
    allow_other_model: bool = False,
) -> SteeringHandle:
    """Add `alpha * vector` to the output of block `layer` until the handle is removed.

    `vector` is `[d_model]` (tensor or array), `[batch, d_model]` (one vector per batch row: many
    directions in one batch) or a `Direction` (its row for `layer`; one made on another model is
    refused unless `allow_other_model`); `alpha` a finite number or a `[batch]` tensor, one value per
    batch row (many alphas in one batch).

    >>> with steer(lm, v, layer=6, alpha=torch.tensor([0.0, 2.0, 4.0])):  # doctest: +SKIP
    ...     out = lm.model.generate(**inputs)
    """
    if positions not in _POSITIONS:
        raise ValueError(f"positions {positions!r}: use one of {', '.join(_POSITIONS)}")
    alpha = _check_alpha(alpha)
    layer = lm.resolve_layer(layer)
    vector_D = _as_vector(vector, lm, layer, allow_other_model=allow_other_model, per_row=True)
    _scaled(vector_D, alpha)  # a count mismatch between alphas and vectors is reported here, not mid-forward
    hook = _adder(vector_D, alpha, positions, _PositionTracker(prompt_length))
    return SteeringHandle([lm.layers[layer].register_forward_hook(hook, prepend=True)])


def _projector(unit_RD: torch.Tensor):
    """x <- x - (x . u) u with `unit_RD` [1 or batch, d_model]: one unit vector for every row, or one per row."""
    cast: dict = {}

    def hook(module, args, output):
        hidden_BSD = output[0] if isinstance(output, tuple) else output
        key = hidden_BSD.device
        if key not in cast:
            cast[key] = unit_RD.to(key)
        u_RD = cast[key]
        if u_RD.shape[0] not in (1, hidden_BSD.shape[0]):
            raise ValueError(
                f"the ablation has {u_RD.shape[0]} rows of directions but the batch has {hidden_BSD.shape[0]} rows"
            )
        # in float32: bf16 dot products would leave a visible component along the direction
        x_BSD = hidden_BSD.float()
        if u_RD.shape[0] == 1:
            x_BSD = x_BSD - (x_BSD @ u_RD[0])[..., None] * u_RD[0]
        else:
            u_B1D = u_RD[:, None, :]
            x_BSD = x_BSD - torch.einsum("bsd,bzd->bsz", x_BSD, u_B1D) * u_B1D
        return _with_hidden(output, x_BSD.to(hidden_BSD.dtype))

    return hook


def _per_row_units(rows_BD: torch.Tensor, lm: LoadedModel) -> torch.Tensor:
    """[batch, d_model] unit vectors from `rows_BD`, each checked (finite, non-zero)."""
    if rows_BD.ndim != 2 or rows_BD.shape[1] != lm.d_model:
        raise ValueError(f"per-row directions must be [batch, {lm.d_model}]; got {tuple(rows_BD.shape)}")
    if not bool(torch.isfinite(rows_BD).all()):
        raise ValueError("vector holds NaN or infinite values")
    norms_B1 = rows_BD.norm(dim=-1, keepdim=True)
    if bool((norms_B1 == 0).any()):
        raise ValueError("cannot ablate a zero vector")
    return rows_BD / norms_B1


def ablate(
    lm: LoadedModel, vector: Vector, layers: Iterable[int] | None = None, *, allow_other_model: bool = False
) -> SteeringHandle:
    """Project the direction out of the output of each block in `layers` (default: all):
    x <- x - (x . v_hat) v_hat. `vector` is `[d_model]`, `[len(layers), d_model]` for one
    direction per layer, `[len(layers), batch, d_model]` for one direction per layer and batch row
    (many ablations in one batch: row b of every pass projects out its own directions), or a
    `Direction` (its row for each layer; one made on another model is refused unless
    `allow_other_model`)."""
    layers = [lm.resolve_layer(layer) for layer in (range(lm.n_layers) if layers is None else layers)]
    if isinstance(vector, Direction):
        rows = [vector.for_model(lm, layer, allow_other_model=allow_other_model) for layer in layers]
    else:
        raw = torch.as_tensor(vector).detach().float().cpu()
        rows = [raw.reshape(-1)] * len(layers) if raw.ndim == 1 or (raw.ndim == 2 and raw.shape[0] == 1) else list(raw)
    if len(rows) != len(layers):
        raise ValueError(f"{len(rows)} direction rows for {len(layers)} layers")
    handles = []
    for layer, row in zip(layers, rows):
        if row.ndim == 2:
            units_RD = _per_row_units(row, lm)
        else:
            row = _as_vector(row, lm)
            if float(row.norm()) == 0:
                raise ValueError("cannot ablate a zero vector")
            units_RD = (row / row.norm())[None]
        handles.append(lm.layers[layer].register_forward_hook(_projector(units_RD), prepend=True))
    return SteeringHandle(handles)


@torch.no_grad()
def relative_alpha(
    lm: LoadedModel,
    vector: Vector,
    layer: int,
    prompts: Sequence[str],
    alpha: float = 1.0,
    *,
    first_token: bool = False,
) -> float:
    """The raw alpha for a relative one: alpha * mean |resid_layer| over the prompts' tokens / |v|.

    The first token of each prompt is left out unless `first_token` (see `mean_residual_norms`); padding
    tokens are left out; prompts are tokenized as given (render chats first). `vector` as for `steer`; only
    its norm is used, so a `Direction` from another model is not refused."""
    layer = lm.resolve_layer(layer)
    vector = _as_vector(vector.at(layer) if isinstance(vector, Direction) else vector, lm)
    if not prompts:
        raise ValueError("relative_alpha needs at least one prompt")
    if float(vector.norm()) == 0:
        raise ValueError("a relative alpha needs a vector of non-zero norm")
    return alpha * mean_residual_norms(lm, prompts, [layer], first_token=first_token)[layer] / float(vector.norm())


@torch.no_grad()
def mean_residual_norms(
    lm: LoadedModel, prompts: Sequence[str], layers: Iterable[int], *, first_token: bool = False
) -> dict[int, float]:
    """Mean |resid_layer| over the prompts' tokens at each layer, in one forward pass per prompt.

    The first token of each prompt is left out unless `first_token`: many models park a residual many times
    the others' norm there (an attention sink), which would set the unit of a relative alpha by one token
    that steering barely moves. Padding tokens are left out; prompts are tokenized as given (render chats
    first)."""
    layers = [lm.resolve_layer(layer) for layer in layers]
    if not prompts:
        raise ValueError("mean_residual_norms needs at least one prompt")
    norms: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}

    def recorder(layer):
        def record(module, args, output):
            norms[layer].append((output[0] if isinstance(output, tuple) else output).float().norm(dim=-1))

        return record

    handles = [lm.layers[layer].register_forward_hook(recorder(layer)) for layer in layers]
    totals, count = dict.fromkeys(layers, 0.0), 0
    try:
        for prompt in prompts:
            batch = lm.tokenizer(prompt, return_tensors="pt").to(lm.device)
            lm.model(**batch, use_cache=False)
            mask = batch["attention_mask"].bool()
            if not first_token:  # one prompt per pass: no padding, so column 0 is the first token
                mask[:, 0] = False
            for layer in layers:
                totals[layer] += float(norms[layer].pop()[mask].sum())
            count += int(mask.sum())
    finally:
        for handle in handles:
            handle.remove()
    if count == 0:
        raise ValueError(
            "the prompts hold no token to average over (each is one token long and first_token is "
            "off); pass longer prompts or first_token=True"
        )
    return {layer: totals[layer] / count for layer in layers}
