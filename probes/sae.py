"""SAE feature attribution for a direction, with sae-lens SAEs.

Two rankings of an SAE's features:
- alignment: cosine between each feature's decoder vector and the direction;
- contrast: each feature's mean activation on positive rows minus negative rows.

`load_sae(release, sae_id)` wraps `sae_lens.SAE.from_pretrained` for users who have a
pretrained SAE (it downloads); any object with `W_dec` `[d_sae, d_in]` and `encode(x)` works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FeatureScore", "SAEAttribution", "contrast_features", "decoder_alignment", "load_sae", "sae_attribution"]


@dataclass(frozen=True)
class FeatureScore:
    feature: int
    score: float


@dataclass(frozen=True)
class SAEAttribution:
    aligned: list[FeatureScore]
    """Top features by cosine of their decoder vector with the direction, highest first."""
    contrast: list[FeatureScore]
    """Top features by mean activation on positive rows minus negative rows, highest first."""
    d_sae: int


def load_sae(release: str, sae_id: str, device: str = "cpu", dtype: str = "float32") -> Any:
    """A pretrained sae-lens SAE (needs the hub or a local cache, and sae-lens: the `sae` extra)."""
    try:
        from sae_lens import SAE
    except ImportError as err:
        raise ImportError(f"load_sae needs sae-lens: pip install 'interp-cluster[sae]' ({err})") from None

    return SAE.from_pretrained(release, sae_id, device=device, dtype=dtype)


def _top(values, top_k: int) -> list[FeatureScore]:
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(-values, kind="stable")[:top_k]
    return [FeatureScore(int(i), float(values[i])) for i in order]


def decoder_alignment(sae, direction, top_k: int = 10) -> list[FeatureScore]:
    """Features whose decoder vectors point most along `direction` ([d_in]), by cosine."""
    import torch

    w_dec_FD = sae.W_dec.detach().float().cpu()
    v_D = torch.as_tensor(np.asarray(direction, dtype=np.float32)).reshape(-1)
    if v_D.shape[0] != w_dec_FD.shape[1]:
        raise ValueError(f"direction has {v_D.shape[0]} dims; the SAE reads {w_dec_FD.shape[1]}")
    cosine_F = torch.nn.functional.cosine_similarity(w_dec_FD, v_D[None], dim=1)
    return _top(cosine_F.numpy(), top_k)


def contrast_features(sae, acts, labels, top_k: int = 10, batch_size: int = 4096) -> list[FeatureScore]:
    """Features most active on the positive rows relative to the negative rows of acts [n, d_in]."""
    import torch

    labels = np.asarray(labels).astype(np.int64)
    if not ((labels == 1).any() and (labels == 0).any()):
        raise ValueError("contrast_features needs rows of both labels")
    param = next(iter(sae.parameters()))
    sums: dict[int, torch.Tensor] = {}  # per label, [n_features]; both labels occur (checked above)
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            x = torch.as_tensor(np.asarray(acts[start : start + batch_size], dtype=np.float32))
            feats_BF = sae.encode(x.to(param.device, param.dtype)).float().cpu()
            batch_labels = torch.as_tensor(labels[start : start + batch_size])
            for c in (0, 1):
                part = feats_BF[batch_labels == c].sum(0)
                sums[c] = sums[c] + part if c in sums else part
    counts = {c: int((labels == c).sum()) for c in (0, 1)}
    return _top((sums[1] / counts[1] - sums[0] / counts[0]).numpy(), top_k)


def sae_attribution(sae, direction, acts, labels, top_k: int = 10) -> SAEAttribution:
    """Both rankings for one direction and one labelled set of activations."""
    return SAEAttribution(
        decoder_alignment(sae, direction, top_k), contrast_features(sae, acts, labels, top_k), int(sae.W_dec.shape[0])
    )
