import numpy as np
import pytest
import torch
from sae_lens import StandardSAE, StandardSAEConfig

from probes.sae import SAEAttribution, contrast_features, decoder_alignment, sae_attribution

D_IN, D_SAE = 16, 48


@pytest.fixture(scope="module")
def planted_sae():
    """A random StandardSAE with feature 5's decoder along `direction` and feature 7 reading `trigger`."""
    torch.manual_seed(0)
    sae = StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=D_SAE))
    rng = np.random.default_rng(0)
    direction = rng.normal(size=D_IN).astype(np.float32)
    trigger = rng.normal(size=D_IN).astype(np.float32)
    trigger /= np.linalg.norm(trigger)
    with torch.no_grad():
        sae.W_dec.copy_(torch.randn(D_SAE, D_IN) * 0.1)
        sae.W_dec[5] = torch.from_numpy(direction) / float(np.linalg.norm(direction))
        sae.W_enc.copy_(torch.randn(D_IN, D_SAE) * 0.1)
        sae.W_enc[:, 7] = torch.from_numpy(trigger) * 2
        sae.b_dec.zero_()
        sae.b_enc.fill_(-0.2)
    return sae, direction, trigger


def test_decoder_alignment_ranks_by_cosine(planted_sae):
    sae, direction, _ = planted_sae
    top = decoder_alignment(sae, direction, top_k=5)
    assert top[0].feature == 5 and top[0].score == pytest.approx(1.0, abs=1e-6)
    w = sae.W_dec.detach().numpy()
    cos = w @ direction / np.linalg.norm(w, axis=1) / np.linalg.norm(direction)
    assert [f.feature for f in top] == list(np.argsort(-cos)[:5])
    np.testing.assert_allclose([f.score for f in top], np.sort(cos)[::-1][:5], rtol=1e-5)
    with pytest.raises(ValueError, match="dims"):
        decoder_alignment(sae, np.ones(3))


def test_contrast_features_find_the_feature_that_fires_on_positives(planted_sae):
    sae, _, trigger = planted_sae
    rng = np.random.default_rng(1)
    labels = np.array([0, 1] * 50)
    acts = (rng.normal(scale=0.3, size=(100, D_IN)) + 3.0 * labels[:, None] * trigger).astype(np.float32)
    top = contrast_features(sae, acts, labels, top_k=3, batch_size=32)
    assert top[0].feature == 7
    with torch.no_grad():
        feats = sae.encode(torch.from_numpy(acts)).numpy()
    expected = feats[labels == 1].mean(0) - feats[labels == 0].mean(0)
    assert top[0].score == pytest.approx(float(expected[7]), rel=1e-5)
    assert [f.feature for f in top] == list(np.argsort(-expected)[:3])


def test_sae_attribution_bundles_both(planted_sae):
    sae, direction, trigger = planted_sae
    labels = np.array([0, 1] * 10)
    acts = (labels[:, None] * trigger * 3).astype(np.float32)
    result = sae_attribution(sae, direction, acts, labels, top_k=2)
    assert isinstance(result, SAEAttribution) and result.d_sae == D_SAE
    assert result.aligned[0].feature == 5 and result.contrast[0].feature == 7
    with pytest.raises(ValueError, match="both labels"):
        contrast_features(sae, acts, np.ones(20))


def test_load_sae_without_sae_lens_says_how_to_install_it(monkeypatch):
    import sys

    from probes import load_sae

    monkeypatch.setitem(sys.modules, "sae_lens", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'interp-cluster\[sae\]'"):
        load_sae("release", "id")
