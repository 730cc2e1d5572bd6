"""The jaxtyping shapes on the public signatures, checked at run time: each function below, wrapped in
`jaxtyped(typechecker=beartype)`, accepts the shapes its annotations say and refuses the others,
and wrapped or not it returns the same thing. (The library itself runs unchecked.)"""

import numpy as np
import pytest
import torch
from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped

import interp
import probes
from activations import ActivationRows

rng = np.random.default_rng(0)
ACTS = rng.normal(size=(8, 5)).astype(np.float32)
LABELS = np.array([1, 0] * 4, dtype=np.int64)
EXAMPLES = np.arange(8, dtype=np.int64)


def checked(fn):
    return jaxtyped(typechecker=beartype)(fn)


@pytest.mark.parametrize(
    "fn", [probes.mean_difference, probes.direction_from_arrays, probes.pca_direction, probes.mass_mean_direction]
)
def test_directions_from_arrays(fn):
    args = (ACTS, LABELS) if fn is probes.mean_difference else (ACTS, LABELS, EXAMPLES)
    np.testing.assert_array_equal(checked(fn)(*args), fn(*args))
    with pytest.raises(TypeCheckError):
        checked(fn)(ACTS, LABELS[:-1], *args[2:])  # one label short of the rows
    with pytest.raises(TypeCheckError):
        checked(fn)(ACTS[0], LABELS, *args[2:])  # a row, not rows
    with pytest.raises(TypeCheckError):
        checked(fn)(ACTS, LABELS.astype(np.float64), *args[2:])  # labels are integers


def test_links():
    direction = ACTS[0]
    examples, projection = checked(probes.per_example_projection)(ACTS, EXAMPLES // 2, direction)
    assert examples.shape == projection.shape == (4,)
    with pytest.raises(TypeCheckError):
        checked(probes.per_example_projection)(ACTS, EXAMPLES, direction[:4])  # the direction's width differs
    x, y = rng.normal(size=10), rng.normal(size=10)
    assert checked(probes.projection_score_link)(x, y, n_boot=50) == probes.projection_score_link(x, y, n_boot=50)
    with pytest.raises(TypeCheckError):
        checked(probes.projection_score_link)(x, y[:9], n_boot=50)
    null = checked(probes.random_directions_like)(direction, 20)
    assert null.shape == (20, 5)
    shifts = rng.normal(size=(2, 4))
    checked(probes.steering_finetune_link)(shifts[0], shifts[1], rng.normal(size=(20, 4)))
    with pytest.raises(TypeCheckError):
        checked(probes.steering_finetune_link)(shifts[0], shifts[1], rng.normal(size=(20, 3)))


def test_layer_sweep():
    acts = rng.normal(size=(16, 5)).astype(np.float32)
    labels, examples = np.array([1, 0] * 8), np.arange(16)
    config = probes.SweepConfig(probe="mean-diff")
    assert (
        checked(probes.layer_sweep)({3: acts}, labels, examples, config).scores
        == probes.layer_sweep({3: acts}, labels, examples, config).scores
    )
    with pytest.raises(TypeCheckError):
        checked(probes.layer_sweep)({3: acts}, labels[:-2], examples, config)


def test_steering_vectors_and_alphas(tiny_lm):
    lm = tiny_lm("qwen3")
    v = torch.randn(lm.d_model)
    for vector in (v, v[None], v.numpy(), interp.Direction(v[None].repeat(3, 1), (0, 1, 2))):
        checked(interp.steer)(lm, vector, 1, 2.0).remove()
    checked(interp.steer)(lm, v.repeat(2, 1), 1, torch.tensor([0.0, 1.0])).remove()  # one vector, one alpha per row
    with pytest.raises(TypeCheckError):
        checked(interp.steer)(lm, v, 1, torch.ones(2, 2))  # alphas are one per batch row
    with pytest.raises(TypeCheckError):
        checked(interp.steer)(lm, v.long(), 1, 1.0)  # a vector is floats
    checked(interp.ablate)(lm, v, [0, 1]).remove()
    direction = interp.Direction(v, (1,))
    assert checked(interp.Direction.at)(direction, 1).shape == (lm.d_model,)


def test_rows_in_memory():
    rows = ActivationRows({0: ACTS}, EXAMPLES, EXAMPLES.astype(np.int32), LABELS, None)
    assert checked(rows.acts)(0, slice(0, 3)).shape == (3, 5)
    assert checked(probes.direction_from_arrays)(*rows.layer_data(0)).shape == (5,)
