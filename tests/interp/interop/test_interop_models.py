"""Models users already hold (TransformerLens `HookedTransformer` and `TransformerBridge`, nnsight
`LanguageModel`) through `interp.load_model`: caching, steering and probing against each library's
own `run_with_cache`, `run_with_hooks`, `generate` and trace outputs, on tiny random models."""

import sys
import warnings

import numpy as np
import pytest
import torch

import interp
from interp.models.interop import held_model
from tests.conftest import VOCAB, build_tiny_model, tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPTS = ["The residual stream, read by its own hooks.", "Short one.", "A third prompt of middling length."]
PAIRS = [("are you conscious ?", "yes , i am .", "no , i am not ."), ("do you feel ?", "yes .", "no , never .")]
ATOL = 1e-5


def hooked_transformer():
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(
        n_layers=3,
        d_model=32,
        n_ctx=128,
        d_head=8,
        n_heads=4,
        d_mlp=64,
        d_vocab=VOCAB,
        act_fn="gelu",
        normalization_type="LN",
        positional_embedding_type="rotary",
        seed=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TransformerLens 3 steers users to the bridge
        return HookedTransformer(cfg, tokenizer=tiny_tokenizer())


def bridge(tiny_model_dir):
    from transformer_lens.model_bridge import TransformerBridge

    folder = tiny_model_dir("qwen3")
    model, tokenizer = build_tiny_model("qwen3")
    return TransformerBridge.boot_transformers(str(folder), hf_model=model, tokenizer=tokenizer, device="cpu")


def tl_resid_post(model, ids) -> dict[int, torch.Tensor]:
    """The library's own `run_with_cache`: {layer: blocks.{layer}.hook_resid_post [seq, d_model]} of one prompt."""
    _, cache = model.run_with_cache(ids[None], names_filter=lambda name: name.endswith("hook_resid_post"))
    return {layer: cache[f"blocks.{layer}.hook_resid_post"][0] for layer in range(model.cfg.n_layers)}


def ids_of(lm, text) -> torch.Tensor:
    return torch.tensor(lm.tokenizer(text)["input_ids"])


@pytest.fixture(params=["hooked_transformer", "bridge"])
def transformer_lens_model(request, tiny_model_dir):
    return hooked_transformer() if request.param == "hooked_transformer" else bridge(tiny_model_dir)


@pytest.mark.parametrize("side", ["right", "left"])
def test_transformer_lens_rows_equal_run_with_cache(transformer_lens_model, side, tmp_path):
    lm = interp.load_model(transformer_lens_model)
    lm.tokenizer.padding_side = side  # one padded batch of three lengths
    rows = interp.activations_of(lm, PROMPTS, layers="all", positions="all")
    assert rows.layers == [0, 1, 2] and lm.n_layers == 3
    for example, text in enumerate(PROMPTS):
        reference = tl_resid_post(transformer_lens_model, ids_of(lm, text))
        mine = rows.example_index == example
        np.testing.assert_array_equal(rows.positions[mine], np.arange(len(reference[0])))
        for layer in rows.layers:
            torch.testing.assert_close(rows.acts(layer, mine, as_torch=True), reference[layer], rtol=0, atol=ATOL)
    result = interp.cache(lm, PROMPTS, tmp_path / "tl.h5", layers="all", dtype="float32", progress=False)
    with interp.ActivationStore(result.path) as store:
        for layer in rows.layers:
            np.testing.assert_array_equal(store.acts(layer), rows.acts(layer))


def test_transformer_lens_steering_is_its_own_hook_addition(transformer_lens_model):
    lm = interp.load_model(transformer_lens_model)
    ids = ids_of(lm, PROMPTS[0])[None]
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    plain = tl_resid_post(transformer_lens_model, ids[0])
    with interp.steer(lm, v, layer=1, alpha=2.0):
        logits, cache = transformer_lens_model.run_with_cache(ids)
    own = transformer_lens_model.run_with_hooks(
        ids, fwd_hooks=[("blocks.1.hook_resid_post", lambda act, hook: act + 2.0 * v)]
    )
    # the toolkit's hook runs on the library's hook point, before the library's own hooks record it
    torch.testing.assert_close(cache["blocks.1.hook_resid_post"][0], plain[1] + 2.0 * v, rtol=0, atol=ATOL)
    torch.testing.assert_close(cache["blocks.0.hook_resid_post"][0], plain[0], rtol=0, atol=0)
    torch.testing.assert_close(logits, own, rtol=0, atol=ATOL)
    with interp.ablate(lm, v, layers=[1]):
        _, ablated = transformer_lens_model.run_with_cache(ids)
    assert float((ablated["blocks.1.hook_resid_post"][0] @ (v / v.norm())).abs().max()) < ATOL


def test_transformer_lens_steered_generate_is_its_own(transformer_lens_model):
    lm = interp.load_model(transformer_lens_model)
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(1))
    ids = ids_of(lm, PROMPTS[1])[None]
    with interp.steer(lm, v, layer=0, alpha=4.0):
        mine = interp.generate(lm, PROMPTS[1], max_new_tokens=6)
    with transformer_lens_model.hooks(fwd_hooks=[("blocks.0.hook_resid_post", lambda act, hook: act + 4.0 * v)]):
        out = transformer_lens_model.generate(ids, max_new_tokens=6, do_sample=False, verbose=False)
    assert mine == lm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    with interp.steer(lm, v, layer=0, alpha=0.0):
        assert interp.generate(lm, PROMPTS[1], max_new_tokens=6) == interp.generate(lm, PROMPTS[1], max_new_tokens=6)


def test_transformer_lens_direction_from_pairs_is_the_plain_mean_difference(transformer_lens_model):
    """Probing: each answer's mean hook_resid_post (teacher-forced after the chat-rendered prompt), read by
    `run_with_cache`, positives minus negatives."""
    lm = interp.load_model(transformer_lens_model)
    direction = interp.direction_from_pairs(lm, PAIRS, layers=[0, 2])
    means = {0: [], 1: []}
    for prompt, *answers in PAIRS:
        rendered = lm.tokenizer(lm.render_chat([{"role": "user", "content": prompt}]), add_special_tokens=False)[
            "input_ids"
        ]
        for label, answer in zip((1, 0), answers):
            ids = torch.tensor(rendered + lm.tokenizer(answer, add_special_tokens=False)["input_ids"])
            stream = tl_resid_post(transformer_lens_model, ids)
            means[label].append(torch.stack([stream[layer][len(rendered) :].mean(0) for layer in (0, 2)]))
    reference = torch.stack(means[1]).mean(0) - torch.stack(means[0]).mean(0)
    assert direction.layers == (0, 2) and direction.method == "mean-diff"
    torch.testing.assert_close(direction.vectors, reference, rtol=0, atol=ATOL)


def test_hooked_transformer_refuses_what_needs_a_key_value_cache():
    lm = interp.load_model(hooked_transformer())
    questions = interp.load_question_set("tests/data/questions_small.yaml")
    with pytest.raises(NotImplementedError, match="needs a Hugging Face model"):
        interp.forced_choice(lm, questions)


def test_bridge_runs_the_model_it_wraps(tiny_model_dir):
    """Forced choice on a bridge is forced choice on its Hugging Face model, steered or not."""
    model, tokenizer = build_tiny_model("qwen3")  # the same weights, bare
    lm, plain = interp.load_model(bridge(tiny_model_dir)), interp.load_model(model, tokenizer=tokenizer)
    questions = interp.load_question_set("tests/data/questions_small.yaml")
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(2))
    scores = {}
    for name, model in (("bridge", lm), ("plain", plain)):
        with interp.steer(model, v, layer=1, alpha=3.0):
            scores[name] = [s.p_expressing for s in interp.forced_choice(model, questions)]
    assert max(abs(p - 0.5) for p in scores["plain"]) > 0.1  # the steering moved the scores off chance
    np.testing.assert_allclose(scores["bridge"], scores["plain"], rtol=0, atol=ATOL)


def nnsight_model(folder=None, kind="LanguageModel"):
    import nnsight

    if kind == "TransformersModel":  # the class nnsight 0.8 points LanguageModel users to
        model, tokenizer = build_tiny_model("qwen3")
        return nnsight.TransformersModel(model, tokenizer=tokenizer, task="text-generation")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nnsight 0.8 deprecates LanguageModel, which users still hold
        if folder is not None:
            return nnsight.LanguageModel(str(folder), tokenizer=tiny_tokenizer())  # loaded lazily: meta weights
        model, tokenizer = build_tiny_model("qwen3")
        return nnsight.LanguageModel(model, tokenizer=tokenizer)


def nnsight_outputs(traced, ids, n_layers) -> list[torch.Tensor]:
    saved = []
    with traced.trace(ids[None]):  # nnsight traces this block's source: plain loops, no comprehensions
        for layer in range(n_layers):
            saved.append(traced.model.layers[layer].output.save())
    return [(out[0] if isinstance(out, tuple) else out)[0] for out in saved]


@pytest.mark.parametrize("lazy", [False, True])
def test_nnsight_rows_equal_its_trace(lazy, tiny_model_dir):
    traced = nnsight_model(folder=tiny_model_dir("qwen3") if lazy else None)
    lm = interp.load_model(traced)
    assert traced.dispatched and lm.device.type == "cpu"
    rows = interp.activations_of(lm, PROMPTS, layers="all", positions="all")
    for example, text in enumerate(PROMPTS):
        reference = nnsight_outputs(traced, ids_of(lm, text), lm.n_layers)
        mine = rows.example_index == example
        for layer in rows.layers:
            torch.testing.assert_close(rows.acts(layer, mine, as_torch=True), reference[layer], rtol=0, atol=ATOL)


@pytest.mark.parametrize("kind", ["LanguageModel", "TransformersModel"])
def test_nnsight_steering_is_its_own_intervention(kind):
    traced = nnsight_model(kind=kind)
    lm = interp.load_model(traced)
    ids = ids_of(lm, PROMPTS[0])[None]
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(3))
    with interp.steer(lm, v, layer=1, alpha=2.0):
        with traced.trace(ids):
            steered_later = traced.model.layers[2].output.save()
            steered = traced.lm_head.output.save()
    with traced.trace(ids):
        traced.model.layers[1].output[:] += 2.0 * v
        own_later = traced.model.layers[2].output.save()
        own = traced.lm_head.output.save()
    torch.testing.assert_close(steered, own, rtol=0, atol=ATOL)
    torch.testing.assert_close(steered_later, own_later, rtol=0, atol=ATOL)


def test_load_model_of_a_hugging_face_object(tiny_model_dir):
    model, tokenizer = build_tiny_model("llama")
    lm = interp.load_model(model, tokenizer=tokenizer)
    assert lm.model is model and lm.n_layers == 3 and lm.layers[0] is model.model.layers[0]
    with pytest.raises(ValueError, match="needs its tokenizer"):
        interp.load_model(model)
    with pytest.raises(ValueError, match="used as it is"):
        interp.load_model(model, dtype="bfloat16", tokenizer=tokenizer)
    with pytest.raises(TypeError, match="pass a tokenizer as tokenizer="):
        interp.load_model(model, tokenizer)
    with pytest.raises(TypeError, match="got a int"):
        interp.load_model(3)
    with pytest.raises(ValueError, match="tokenizer= goes with a model object"):
        interp.load_model(tiny_model_dir("llama"), tokenizer=tokenizer)


def test_a_missing_library_says_how_to_install_it(monkeypatch):
    fake = type("LanguageModel", (), {"__module__": "nnsight.modeling.language"})()
    monkeypatch.setitem(sys.modules, "nnsight", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'interp-cluster\[interop\]'"):
        held_model(fake)
