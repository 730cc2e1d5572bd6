"""One pass over a layer's hidden states: gather real-token rows, cast, per-label sums, projections.

`fused_capture` is the entry point the pipeline calls. This module holds the plain torch
reference; a Triton kernel with the same contract is used on CUDA when available.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Literal

import torch

from activations.fused_out import FusedOut

__all__ = ["Backend", "FusedOut", "fused_capture", "fused_capture_reference", "resolve_backend"]


def fused_capture_reference(
    hidden_BSD: torch.Tensor,
    select_BS: torch.Tensor,
    out_dtype: torch.dtype,
    labels_B: torch.Tensor | None = None,
    n_classes: int = 0,
    directions_KD: torch.Tensor | None = None,
    store_rows: bool = True,
) -> FusedOut:
    """Plain torch: the definition the fused kernel is tested against."""
    batch_idx, pos_idx = select_BS.nonzero(as_tuple=True)
    rows_ND = hidden_BSD[batch_idx, pos_idx]
    rows32_ND = rows_ND.float()
    class_sum = class_sumsq = class_count = None
    if labels_B is not None and n_classes > 0:
        row_labels = labels_B.to(hidden_BSD.device)[batch_idx]
        keep = row_labels >= 0
        labelled, values = row_labels[keep], rows32_ND[keep]
        d_model = hidden_BSD.shape[-1]
        class_sum = torch.zeros(n_classes, d_model, device=hidden_BSD.device).index_add_(0, labelled, values)
        class_sumsq = torch.zeros(n_classes, d_model, device=hidden_BSD.device).index_add_(0, labelled, values**2)
        class_count = torch.bincount(labelled, minlength=n_classes).to(torch.int64)
    proj = None
    if directions_KD is not None and directions_KD.shape[0] > 0:
        proj = rows32_ND @ directions_KD.to(rows32_ND.device, torch.float32).T
    rows = rows_ND.to(out_dtype) if store_rows else None
    return FusedOut(rows, class_sum, class_sumsq, class_count, proj)


Backend = Literal["auto", "torch", "triton"]


def _triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def _run_triton(*args) -> FusedOut:
    try:
        from activations.triton_fused import fused_capture_triton
    except ImportError as err:
        raise ImportError(
            "backend='triton' needs Triton: pip install 'interp[gpu]' "
            "(or 'interp[kernels-cpu]' for the CPU interpreter)"
        ) from err
    return fused_capture_triton(*args)


_BACKENDS: dict[str, Callable[..., FusedOut]] = {"torch": fused_capture_reference, "triton": _run_triton}


def resolve_backend(backend: Backend, hidden_BSD: torch.Tensor) -> str:
    """'auto' means the Triton kernel for CUDA tensors when Triton is installed, else torch."""
    if backend == "auto":
        return "triton" if hidden_BSD.is_cuda and _triton_available() else "torch"
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of auto, {', '.join(_BACKENDS)}")
    return backend


def fused_capture(
    hidden_BSD: torch.Tensor,
    select_BS: torch.Tensor,
    out_dtype: torch.dtype,
    labels_B: torch.Tensor | None = None,
    n_classes: int = 0,
    directions_KD: torch.Tensor | None = None,
    store_rows: bool = True,
    *,
    backend: Backend = "auto",
) -> FusedOut:
    """Dispatch: the Triton kernel on CUDA tensors when Triton is installed, else the reference.

    `backend="triton"` forces the kernel (on CPU tensors it needs `TRITON_INTERPRET=1`);
    `backend="torch"` forces the reference.
    """
    run = _BACKENDS[resolve_backend(backend, hidden_BSD)]
    return run(hidden_BSD, select_BS, out_dtype, labels_B, n_classes, directions_KD, store_rows)
