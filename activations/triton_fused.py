"""The Triton kernel behind `fused_capture`: gather, cast, per-label sums and projections in one pass.

Each program owns a tile of `ROWS` selected rows by `BLOCK_D` features. It reads the tile from the
hidden states once and, from registers, (1) stores it cast to the storage dtype into a contiguous
buffer, (2) adds its per-label sums and sums of squares into the float32 accumulators (one atomic
add per label per tile, not per row, so few labels do not serialise the GPU), and (3) adds its
partial dot products with the K directions into the projections. Row offsets come from
`select_BS.nonzero()`, which keeps the row-major order of the reference.

The kernel is decorated on first use rather than at import, so that `TRITON_INTERPRET=1` set after
this module was imported still selects the CPU interpreter (Triton reads it at decoration time).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from activations.fused_out import FusedOut

__all__ = ["fused_capture_triton", "interpreting"]

_ROWS = 16
_BLOCK_D = 128


def _fused_capture_body(
    hidden_ptr,
    stride_b,
    stride_s,
    stride_d,
    batch_idx_ptr,
    pos_idx_ptr,
    labels_ptr,
    rows_ptr,
    sum_ptr,
    sumsq_ptr,
    dir_ptr,
    proj_ptr,
    n_rows,
    d_model,
    n_classes,
    n_dirs,
    STORE_ROWS: tl.constexpr,
    OUT_BF16: tl.constexpr,
    HAS_LABELS: tl.constexpr,
    HAS_PROJ: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    pid_r = tl.program_id(0)
    pid_d = tl.program_id(1)
    rows_R = pid_r.to(tl.int64) * ROWS + tl.arange(0, ROWS)
    offs_D = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    valid_R = rows_R < n_rows
    valid_D = offs_D < d_model
    mask_RD = valid_R[:, None] & valid_D[None, :]

    b_R = tl.load(batch_idx_ptr + rows_R, mask=valid_R, other=0)
    s_R = tl.load(pos_idx_ptr + rows_R, mask=valid_R, other=0)
    src_RD = hidden_ptr + b_R[:, None] * stride_b + s_R[:, None] * stride_s + offs_D[None, :] * stride_d
    x_RD = tl.load(src_RD, mask=mask_RD, other=0.0)
    if STORE_ROWS:
        dst_RD = rows_ptr + rows_R[:, None] * d_model + offs_D[None, :]
        if OUT_BF16:
            # Round to nearest even by hand: Triton's CPU interpreter truncates float32 -> bfloat16,
            # which would leave the stored rows one unit in the last place off torch's cast.
            x32_RD = x_RD.to(tl.float32)
            bits_RD = x32_RD.to(tl.uint32, bitcast=True)
            bits_RD = (bits_RD + 0x7FFF + ((bits_RD >> 16) & 1)) >> 16
            bits_RD = tl.where(x32_RD != x32_RD, 0x7FC0, bits_RD).to(tl.uint16)
            tl.store(dst_RD, bits_RD.to(tl.bfloat16, bitcast=True), mask=mask_RD)
        else:
            tl.store(dst_RD, x_RD.to(rows_ptr.dtype.element_ty), mask=mask_RD)
    xf_RD = x_RD.to(tl.float32)

    if HAS_LABELS:
        # Rows labelled -1 and padding rows of the tile match no class, so they add nothing.
        label_R = tl.load(labels_ptr + rows_R, mask=valid_R, other=-1)
        for c in range(n_classes):
            w_R = (label_R == c).to(tl.float32)
            part_D = tl.sum(xf_RD * w_R[:, None], axis=0)
            part2_D = tl.sum(xf_RD * xf_RD * w_R[:, None], axis=0)
            tl.atomic_add(sum_ptr + c * d_model + offs_D, part_D, mask=valid_D)
            tl.atomic_add(sumsq_ptr + c * d_model + offs_D, part2_D, mask=valid_D)

    if HAS_PROJ:
        for k in range(n_dirs):
            dir_D = tl.load(dir_ptr + k * d_model + offs_D, mask=valid_D, other=0.0)
            part_R = tl.sum(xf_RD * dir_D[None, :], axis=1)
            tl.atomic_add(proj_ptr + rows_R * n_dirs + k, part_R, mask=valid_R)


_KERNELS: dict[bool, object] = {}


def interpreting() -> bool:
    """Whether Triton would run kernels in its CPU interpreter (`TRITON_INTERPRET=1`)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in {"1", "true", "on", "yes"}


def _kernel():
    mode = interpreting()
    if mode not in _KERNELS:
        _KERNELS[mode] = triton.jit(_fused_capture_body)
    return _KERNELS[mode]


def fused_capture_triton(
    hidden_BSD: torch.Tensor,
    select_BS: torch.Tensor,
    out_dtype: torch.dtype,
    labels_B: torch.Tensor | None = None,
    n_classes: int = 0,
    directions_KD: torch.Tensor | None = None,
    store_rows: bool = True,
) -> FusedOut:
    """Same contract as `fused_capture_reference`, computed by one Triton kernel launch."""
    if not (hidden_BSD.is_cuda or interpreting()):
        raise ValueError(
            "the Triton kernel needs CUDA tensors; on CPU set TRITON_INTERPRET=1 "
            "or call fused_capture(..., backend='torch')"
        )
    device, d_model = hidden_BSD.device, hidden_BSD.shape[-1]
    batch_idx, pos_idx = select_BS.to(device).nonzero(as_tuple=True)
    n_rows = batch_idx.numel()

    rows = torch.empty(n_rows, d_model, dtype=out_dtype, device=device) if store_rows else None
    has_labels = labels_B is not None and n_classes > 0
    row_labels = class_sum = class_sumsq = class_count = None
    if labels_B is not None and has_labels:
        row_labels = labels_B.to(device, torch.int64)[batch_idx]
        if n_rows and int(row_labels.max()) >= n_classes:
            raise ValueError(f"a label is >= n_classes={n_classes}; labels must be -1 or in [0, n_classes)")
        class_sum = torch.zeros(n_classes, d_model, device=device)
        class_sumsq = torch.zeros(n_classes, d_model, device=device)
        class_count = torch.bincount(row_labels[row_labels >= 0], minlength=n_classes).to(torch.int64)
    n_dirs = 0 if directions_KD is None else directions_KD.shape[0]
    dirs = proj = None
    if directions_KD is not None and n_dirs > 0:
        dirs = directions_KD.to(device, torch.float32).contiguous()
        proj = torch.zeros(n_rows, n_dirs, device=device)

    if n_rows > 0:
        # Unused pointer arguments still need a tensor; the constexpr flags keep them untouched.
        dummy = batch_idx
        grid = (triton.cdiv(n_rows, _ROWS), triton.cdiv(d_model, _BLOCK_D))
        _kernel()[grid](
            hidden_BSD,
            *hidden_BSD.stride(),
            batch_idx,
            pos_idx,
            row_labels if has_labels else dummy,
            rows if store_rows else dummy,
            class_sum if has_labels else dummy,
            class_sumsq if has_labels else dummy,
            dirs if n_dirs else dummy,
            proj if n_dirs else dummy,
            n_rows,
            d_model,
            n_classes if has_labels else 0,
            n_dirs,
            STORE_ROWS=store_rows,
            OUT_BF16=out_dtype == torch.bfloat16,
            HAS_LABELS=has_labels,
            HAS_PROJ=n_dirs > 0,
            ROWS=_ROWS,
            BLOCK_D=_BLOCK_D,
        )
    return FusedOut(rows, class_sum, class_sumsq, class_count, proj)
