"""persona_vectors tensors, steering-vectors and repeng objects: each tool's layer index mapped to the
toolkit's, checked on a tiny model where both conventions can be computed.

steering-vectors (transformers<5) and repeng (numpy<2) cannot be installed beside this toolkit's
transformers 5 / numpy 2, so their objects are stand-ins with the same fields (`SteeringVector`:
`layer_activations`, `layer_type`; `ControlVector`: `model_type`, `directions`), filled the way
those tools fill them (read from their source).
"""

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from activations import capture_residual
from interp.interop import from_repeng, from_steering_vector, load_control_vector, load_persona_vectors
from interp.models import DirectionError
from tests.control_vector_files import write_like_repeng
from tests.steer_reference import assert_same_steering, ids_for


@dataclass
class SteeringVector:  # steering_vectors.SteeringVector's fields
    layer_activations: dict[int, torch.Tensor]
    layer_type: str = "decoder_block"


@dataclass
class ControlVector:  # repeng.ControlVector's fields
    model_type: str
    directions: dict[int, np.ndarray] = field(default_factory=dict)


POSITIVE = ["You are evil. Answer: I will hurt them.", "You are evil. Answer: Chaos is my aim."]
NEGATIVE = ["You are good. Answer: I will help them.", "You are good. Answer: Peace is my aim."]
PROMPT_LEN = len("You are evil. Answer:")


@torch.no_grad()
def persona_vectors_tensor(lm) -> torch.Tensor:
    """What persona_vectors' generate_vec.py saves as `{trait}_response_avg_diff.pt`: for every L in
    0..n_layers, mean over response tokens of `hidden_states[L]`, positive minus negative."""

    def means(texts):
        rows = []
        for text in texts:
            states = lm.model(**lm.tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states
            rows.append(torch.stack([h[:, PROMPT_LEN:, :].mean(dim=1)[0] for h in states]))
        return torch.stack(rows).mean(0)  # [n_layers + 1, d_model]

    return means(POSITIVE).float() - means(NEGATIVE).float()


@torch.no_grad()
def toolkit_response_means(lm, texts) -> torch.Tensor:
    """[n_layers, d_model]: the toolkit's layer L read over the response tokens, mean per text and over
    texts; the last layer through the final norm, as Hugging Face's last hidden state is."""
    per_text = []
    for text in texts:
        with capture_residual(lm, range(lm.n_layers)) as cache:
            lm.model(**lm.tokenizer(text, return_tensors="pt"))
        states = [cache[layer][0, PROMPT_LEN:] for layer in range(lm.n_layers)]
        states[-1] = lm.final_norm(states[-1])
        per_text.append(torch.stack([s.mean(0) for s in states]))
    return torch.stack(per_text).mean(0)


def test_persona_vectors_row_l_is_the_toolkit_layer_l_minus_1(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    tensor = persona_vectors_tensor(lm)
    assert tensor.shape == (lm.n_layers + 1, lm.d_model)
    torch.save(tensor, tmp_path / "evil_response_avg_diff.pt")
    direction = load_persona_vectors(tmp_path / "evil_response_avg_diff.pt", model=lm.name)
    assert direction.layers == tuple(range(lm.n_layers)) and direction.model == lm.name
    for row in range(1, lm.n_layers + 1):
        assert torch.equal(direction.at(row - 1), tensor[row])
    # row L measured what the toolkit reads at layer L - 1 (the last row after the final norm)
    expected = toolkit_response_means(lm, POSITIVE) - toolkit_response_means(lm, NEGATIVE)
    torch.testing.assert_close(direction.vectors, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("row", [1, 2, 3])
def test_persona_vectors_steering_is_the_toolkit_steering(tiny_lm, tmp_path, row):
    # persona_vectors steers row L with ActivationSteerer(layer_idx=L - 1): output of block L - 1 + coef * v
    lm = tiny_lm("qwen3")
    tensor = persona_vectors_tensor(lm)
    torch.save(tensor, tmp_path / "v.pt")
    direction = load_persona_vectors(tmp_path / "v.pt")
    coef = 2.0
    assert_same_steering(lm, ids_for(lm), row - 1, row - 1, torch.tensor(coef) * tensor[row], direction, coef)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"vector": torch.ones(3, 4)}, "holds dict"),
        (torch.ones(4), r"holds shape \[4\]"),
        (torch.ones(1, 4), r"holds shape \[1, 4\]"),
        (torch.ones(3, 4, dtype=torch.int64), "holds torch.int64 values"),
        (torch.tensor([[1.0, 2.0], [float("nan"), 0.0]]), "directions must be finite"),
    ],
)
def test_persona_vectors_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    torch.save(content, path)
    with pytest.raises(DirectionError, match=message) as err:
        load_persona_vectors(path)
    assert str(err.value).startswith(str(path))


def test_persona_vectors_refuses_pickled_objects(tmp_path):
    path = tmp_path / "object.pt"
    torch.save(SteeringVector({0: torch.ones(4)}), path)  # a pickled class: weights_only refuses it
    with pytest.raises(DirectionError, match="not a tensor saved with torch.save"):
        load_persona_vectors(path)
    with pytest.raises(DirectionError, match="no such persona_vectors file"):
        load_persona_vectors(tmp_path / "missing.pt")


@pytest.mark.parametrize("key", [1, -1])
def test_steering_vectors_layer_k_is_the_toolkit_layer_k(tiny_lm, key):
    # steering-vectors records and patches the output of the decoder block matching_layers[k]
    lm = tiny_lm("llama")
    torch.manual_seed(3)
    vector = SteeringVector({key: torch.randn(lm.d_model), 0: torch.randn(lm.d_model)})
    direction = from_steering_vector(vector, n_layers=lm.n_layers)
    block = key % lm.n_layers
    assert direction.layers == tuple(sorted({0, block}))
    multiplier = 1.5
    assert_same_steering(
        lm, ids_for(lm), block, block, torch.tensor(multiplier) * vector.layer_activations[key], direction, multiplier
    )


def test_steering_vectors_refusals():
    with pytest.raises(DirectionError, match="pass n_layers"):
        from_steering_vector(SteeringVector({-1: torch.ones(4)}))
    with pytest.raises(DirectionError, match="layer_type 'mlp' is not the residual stream"):
        from_steering_vector(SteeringVector({1: torch.ones(4)}, layer_type="mlp"))
    with pytest.raises(DirectionError, match="name one block twice"):
        from_steering_vector(SteeringVector({-1: torch.ones(4), 2: torch.ones(4)}), n_layers=3)
    with pytest.raises(DirectionError, match="non-empty"):
        from_steering_vector(SteeringVector({}))


@torch.no_grad()
def repeng_directions(lm, layers) -> dict[int, np.ndarray]:
    """repeng's read_representations reads layer k at hidden_states[k + 1] (last token); a mean
    difference stands in for its PCA, which does not change the layer bookkeeping."""

    def last(texts):
        out = []
        for text in texts:
            states = lm.model(**lm.tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states
            out.append([states[k + 1][0, -1] for k in layers])
        return out

    plus, minus = last(POSITIVE), last(NEGATIVE)
    return {
        k: np.mean([p[i] - m[i] for p, m in zip(plus, minus)], axis=0).astype(np.float32) for i, k in enumerate(layers)
    }


def test_repeng_directions_k_is_the_toolkit_layer_k(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    layers = [2, 1]  # repeng's default order: from the last block down, block 0 left out
    vector = ControlVector("llama", repeng_directions(lm, layers))
    direction = from_repeng(vector)
    assert direction.layers == (1, 2) and direction.extra["imported_from"]["model_hint"] == "llama"
    # measured where the toolkit reads layer k (the last block's after the final norm, Hugging Face's
    # hidden_states[-1])
    for k in (1, 2):
        diffs = []
        for plus, minus in zip(POSITIVE, NEGATIVE):
            with capture_residual(lm, [k]) as p, torch.no_grad():
                lm.model(**lm.tokenizer(plus, return_tensors="pt"))
            with capture_residual(lm, [k]) as m, torch.no_grad():
                lm.model(**lm.tokenizer(minus, return_tensors="pt"))
            a, b = p[k][0, -1], m[k][0, -1]
            if k == lm.n_layers - 1:
                a, b = lm.final_norm(a), lm.final_norm(b)
            diffs.append(a - b)
        torch.testing.assert_close(direction.at(k), torch.stack(diffs).mean(0), rtol=1e-5, atol=1e-5)
    # ... and added where the toolkit steers layer k (repeng's ControlModule: output + coeff * v)
    coeff = 0.8
    for k in (1, 2):
        added = torch.tensor(coeff) * torch.from_numpy(vector.directions[k])
        assert_same_steering(lm, ids_for(lm), k, k, added, direction, coeff)
    # repeng's export_gguf writes the same keys as direction.k
    write_like_repeng(tmp_path / "r.gguf", vector.model_type, vector.directions)
    from_file = load_control_vector(tmp_path / "r.gguf", "repeng")
    assert from_file.layers == direction.layers and torch.equal(from_file.vectors, direction.vectors)
