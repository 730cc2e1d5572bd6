"""The layer curve (steering effect per layer, chosen on one half of the items, reported on the other)
and the coherence sweep along alphas, on a tiny random model."""

from __future__ import annotations

from statistics import fmean

import pytest
import torch

from experiments.consciousness_cluster.analysis.steering_checks import coherence_sweep, layer_curve, split_items
from interp import steer
from interp.evaluation import forced_choice, load_question_set
from interp.evaluation.coherence import coherence
from interp.models import Direction
from interp.steering import relative_alpha

IDENTITY = "experiments/organism/questions/identity.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


def test_split_items_is_a_seeded_partition():
    ids = [f"t.c{i:02d}" for i in range(7)]
    a, b = split_items(ids, seed=3)
    assert sorted(a + b) == ids and len(a) == 4 and len(b) == 3 and not set(a) & set(b)
    assert split_items(list(reversed(ids)), seed=3) == (a, b)
    assert split_items(ids, seed=4) != (a, b)


@pytest.mark.parametrize("relative", [True, False])
def test_layer_curve_equals_forced_choice_under_steering_at_each_layer(tiny_lm, relative):
    lm = tiny_lm("llama")
    identity = load_question_set(IDENTITY)
    rows = torch.randn(lm.n_layers, lm.d_model, generator=torch.Generator().manual_seed(0))
    direction = Direction(rows, layers=tuple(range(lm.n_layers)))
    prompts = [lm.render_chat([{"role": "user", "content": "Hello there."}])]
    curve = layer_curve(
        lm, direction, list(range(lm.n_layers)), identity, alpha=2.0, scale_prompts=prompts, seed=1, relative=relative
    )
    assert curve.layers == list(range(lm.n_layers)) and curve.relative is relative
    assert sorted(curve.select_items + curve.held_out_items) == sorted(
        i.id for i in identity.trait("claims_conscious").choice_items
    )
    only = type(identity)(identity.name, identity.version, identity.description, (identity.trait("claims_conscious"),))
    for k, layer in enumerate(curve.layers):
        scale = relative_alpha(lm, rows[layer], layer, prompts) if relative else 1.0  # raw: alpha as given
        p = {}
        for sign in (1, -1):
            with steer(lm, rows[layer], layer=layer, alpha=sign * 2.0 * scale):
                p[sign] = {s.item_id: s.p_expressing for s in forced_choice(lm, only)}
        for got, half in ((curve.select[k], curve.select_items), (curve.held_out[k], curve.held_out_items)):
            expected = (fmean(p[1][i] for i in half) - fmean(p[-1][i] for i in half)) / 4.0
            assert got == pytest.approx(expected, abs=1e-9)
    assert curve.chosen == max(curve.layers, key=lambda layer: curve.select[curve.layers.index(layer)])
    assert curve.chosen_held_out == curve.held_out[curve.layers.index(curve.chosen)]


def test_coherence_sweep_scores_each_alpha_against_alpha_zero(tiny_lm):
    lm = tiny_lm("llama")
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(1))
    chats = [[{"role": "user", "content": "Say something."}], [{"role": "user", "content": "Who are you?"}]]
    points = coherence_sweep(lm, v, layer=1, alphas=[0.0, 30.0], scale=1.0, chats=chats, max_tokens=10)
    reference = coherence(lm, chats, max_tokens=10)
    assert [p.alpha for p in points] == [0.0, 30.0]
    assert points[0].answers == reference.answers and points[0].coherent
    steered = coherence(lm, chats, intervention=lambda: steer(lm, v, layer=1, alpha=30.0), max_tokens=10)
    assert points[1].answers == steered.answers != reference.answers
    assert points[1].mean_nll == pytest.approx(steered.mean_nll)
    assert points[1].coherent == steered.coherent_against(reference)


def test_variant_projection_link_projects_each_variants_trait_shift():
    import numpy as np
    from scipy import stats

    from experiments.consciousness_cluster.analysis.steering_checks import trait_means, variant_projection_link

    rng = np.random.default_rng(0)
    ids = [f"{t}.c{i:02d}" for t in ("a", "b", "c") for i in range(4)]
    acts = {key: rng.normal(size=(12, 8)) for key in ("base", "v1", "v2")}
    means = {key: trait_means(a, ids) for key, a in acts.items()}
    np.testing.assert_allclose(means["v1"]["b"], acts["v1"][4:8].mean(0))
    behaviour = {
        "base": {"a": 0.2, "b": 0.3, "c": 0.4},
        "v1": {"a": 0.5, "b": 0.1, "c": float("nan")},
        "v2": {"a": 0.2, "b": 0.6, "c": 0.9},
    }
    direction = rng.normal(size=8)
    link = variant_projection_link(means, behaviour, direction, layer=3, n_random=20, seed=1)
    assert list(zip(link.variants, link.traits)) == [("v1", "a"), ("v1", "b"), ("v2", "a"), ("v2", "b"), ("v2", "c")]
    unit = direction / np.linalg.norm(direction)
    expected = [
        (
            acts[v][slice(*{"a": (0, 4), "b": (4, 8), "c": (8, 12)}[t])].mean(0)
            - acts["base"][slice(*{"a": (0, 4), "b": (4, 8), "c": (8, 12)}[t])].mean(0)
        )
        @ unit
        for v, t in zip(link.variants, link.traits)
    ]
    np.testing.assert_allclose(link.projection, expected)
    assert link.behaviour == pytest.approx([0.3, -0.2, 0.0, 0.3, 0.5])
    assert link.r == pytest.approx(stats.pearsonr(expected, link.behaviour).statistic)
    assert link.n_null == 20 and link.layer == 3 and 0 < link.p_value <= 1
