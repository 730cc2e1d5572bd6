"""What one fused pass over a layer's hidden states returns: the contract the torch reference
(`activations.fused`) and the Triton kernel (`activations.triton_fused`) both keep."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["FusedOut"]


class FusedOut(NamedTuple):
    rows: torch.Tensor | None
    """[n_rows, d_model] in the storage dtype, selected (batch, position) pairs in row-major order."""
    class_sum: torch.Tensor | None
    """[n_classes, d_model] float32 sum of the selected rows per label (rows labelled -1 skipped)."""
    class_sumsq: torch.Tensor | None
    """[n_classes, d_model] float32 sum of squares per label."""
    class_count: torch.Tensor | None
    """[n_classes] int64 number of rows per label."""
    proj: torch.Tensor | None
    """[n_rows, K] float32 projections of the rows (input precision) onto the K directions."""
