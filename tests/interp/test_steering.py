import pytest
import torch

from interp import ablate, steer
from interp.models import DirectionError
from interp.steering import relative_alpha


def _inputs(lm, texts=("Hello there, how are you?", "Tell me a story about a dog.")):
    lm.tokenizer.padding_side = "left"
    return lm.tokenizer(list(texts), return_tensors="pt", padding=True)


def _vector(lm, seed=1):
    return torch.randn(lm.d_model, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def test_alpha_zero_leaves_logits_bit_identical(tiny_lm):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm)
    reference = lm.model(**batch).logits
    with steer(lm, _vector(lm), layer=1, alpha=0.0):
        steered = lm.model(**batch).logits
    assert torch.equal(reference, steered)


@pytest.mark.parametrize("arch", ["qwen3", "llama", "gpt2", "gemma2"])
@torch.no_grad()
def test_steered_hidden_state_is_original_plus_alpha_v(tiny_lm, arch):
    lm = tiny_lm(arch)
    batch = _inputs(lm)
    v = _vector(lm)
    base = lm.model(**batch, output_hidden_states=True).hidden_states
    for layer in range(lm.n_layers - 1):  # the last state is taken after the final norm
        with steer(lm, v, layer=layer, alpha=2.5, positions="all"):
            steered = lm.model(**batch, output_hidden_states=True).hidden_states
        torch.testing.assert_close(steered[layer + 1], base[layer + 1] + 2.5 * v)
        torch.testing.assert_close(steered[layer], base[layer])  # nothing upstream moves


@torch.no_grad()
def test_per_row_alpha_equals_separate_runs(tiny_lm):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm, ["The same prompt."] * 3)
    v = _vector(lm)
    alphas = torch.tensor([0.0, 1.0, -3.0])
    with steer(lm, v, layer=1, alpha=alphas):
        together = lm.model(**batch).logits
    for row, alpha in enumerate(alphas.tolist()):
        with steer(lm, v, layer=1, alpha=alpha):
            alone = lm.model(**{k: t[row : row + 1] for k, t in batch.items()}).logits
        torch.testing.assert_close(together[row : row + 1], alone, rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_per_row_vectors_equal_separate_runs(tiny_lm):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm, ["The same prompt."] * 3)
    vectors_BD = torch.stack([_vector(lm, seed) for seed in (1, 2, 3)])
    alphas = torch.tensor([0.0, 1.5, -2.0])
    with steer(lm, vectors_BD, layer=1, alpha=alphas):
        together = lm.model(**batch).logits
    for row in range(3):
        with steer(lm, vectors_BD[row], layer=1, alpha=float(alphas[row])):
            alone = lm.model(**{k: t[row : row + 1] for k, t in batch.items()}).logits
        torch.testing.assert_close(together[row : row + 1], alone, rtol=1e-5, atol=1e-5)
    assert torch.equal(together[0], lm.model(**batch).logits[0])  # the alpha-0 row: the unsteered batch's, bit for bit


def test_per_row_vectors_and_alphas_must_agree(tiny_lm):
    lm = tiny_lm("qwen3")
    vectors_BD = torch.stack([_vector(lm, seed) for seed in (1, 2, 3)])
    with pytest.raises(ValueError, match="alpha has 2 values but there are 3 vectors"):
        steer(lm, vectors_BD, layer=1, alpha=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"or \[batch, d_model\]"):
        steer(lm, torch.zeros(3, lm.d_model + 1), layer=1)


@torch.no_grad()
def test_alpha_batch_size_mismatch_is_reported(tiny_lm):
    lm = tiny_lm("qwen3")
    with steer(lm, _vector(lm), layer=0, alpha=torch.tensor([1.0, 2.0, 3.0])):
        with pytest.raises(ValueError, match="the steering has 3 rows .alphas or vectors. but the batch has 2 rows"):
            lm.model(**_inputs(lm))


@torch.no_grad()
def test_ablation_removes_the_projection(tiny_lm):
    lm = tiny_lm("llama")
    batch = _inputs(lm)
    v = _vector(lm)
    unit = v / v.norm()
    base = lm.model(**batch, output_hidden_states=True).hidden_states
    assert (base[2] @ unit).abs().max() > 1e-2
    with ablate(lm, v, layers=[0, 1]):
        ablated = lm.model(**batch, output_hidden_states=True).hidden_states
    for layer in (0, 1):
        assert (ablated[layer + 1] @ unit).abs().max() < 1e-5
    # the rest of each state is untouched at the first ablated layer
    torch.testing.assert_close(ablated[1], base[1] - (base[1] @ unit)[..., None] * unit)


def _generate(lm, batch, use_cache, **steer_kwargs):
    with steer(lm, **steer_kwargs):
        return lm.model.generate(
            **batch, max_new_tokens=6, do_sample=False, use_cache=use_cache, pad_token_id=lm.tokenizer.pad_token_id
        )


@pytest.mark.parametrize("positions", ["all", "prompt", "response"])
@torch.no_grad()
def test_steered_generation_with_cache_equals_without(tiny_lm, positions):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm)
    prompt_length = batch["input_ids"].shape[1]
    kwargs = dict(vector=_vector(lm) * 3, layer=1, alpha=torch.tensor([1.0, -2.0]), positions=positions)
    cached = _generate(lm, batch, True, **kwargs)
    uncached = _generate(lm, batch, False, prompt_length=prompt_length, **kwargs)
    plain = lm.model.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    assert torch.equal(cached, uncached)
    assert not torch.equal(cached, plain)


@torch.no_grad()
def test_prompt_and_response_positions_split_at_the_prompt(tiny_lm):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm)
    v = _vector(lm)
    base = lm.model(**batch, output_hidden_states=True).hidden_states[2]
    for positions, steered_part in (("prompt", slice(0, 4)), ("response", slice(4, None))):
        with steer(lm, v, layer=1, alpha=1.0, positions=positions, prompt_length=4):
            got = lm.model(**batch, output_hidden_states=True).hidden_states[2]
        expected = base.clone()
        expected[:, steered_part] += v
        torch.testing.assert_close(got, expected)


@torch.no_grad()
def test_ablation_inside_cached_generation_matches_uncached(tiny_lm):
    lm = tiny_lm("llama")
    batch = _inputs(lm)
    outs = []
    for use_cache in (True, False):
        with ablate(lm, _vector(lm), layers=[0, 2]):
            outs.append(
                lm.model.generate(
                    **batch,
                    max_new_tokens=5,
                    do_sample=False,
                    use_cache=use_cache,
                    pad_token_id=lm.tokenizer.pad_token_id,
                )
            )
    assert torch.equal(outs[0], outs[1])


def test_hooks_are_removed_after_the_block_and_after_an_exception(tiny_lm):
    lm = tiny_lm("qwen3")
    before = [len(block._forward_hooks) for block in lm.layers]
    with steer(lm, _vector(lm), layer=1, alpha=1.0), ablate(lm, _vector(lm)):
        assert len(lm.layers[1]._forward_hooks) == before[1] + 2
    assert [len(block._forward_hooks) for block in lm.layers] == before
    with pytest.raises(RuntimeError, match="boom"):
        with steer(lm, _vector(lm), layer=2, alpha=1.0):
            raise RuntimeError("boom")
    assert [len(block._forward_hooks) for block in lm.layers] == before
    handle = steer(lm, _vector(lm), layer=0, alpha=1.0)
    assert handle.active
    handle.remove()
    handle.remove()
    assert not handle.active and [len(block._forward_hooks) for block in lm.layers] == before


def test_bad_arguments(tiny_lm):
    lm = tiny_lm("qwen3")
    with pytest.raises(ValueError, match="positions"):
        steer(lm, _vector(lm), layer=0, positions="middle")
    with pytest.raises(ValueError, match="shape"):
        steer(lm, torch.zeros(5), layer=0)
    with pytest.raises(ValueError, match="out of range"):
        steer(lm, _vector(lm), layer=7)


@torch.no_grad()
@pytest.mark.parametrize("first_token", [False, True])
def test_relative_alpha_scales_by_mean_residual_norm(tiny_lm, first_token):
    lm = tiny_lm("qwen3")
    v = _vector(lm)
    prompts = ["Hello there.", "A longer prompt about cats and dogs."]
    norms = []
    for prompt in prompts:
        batch = lm.tokenizer(prompt, return_tensors="pt")
        per_token = lm.model(**batch, output_hidden_states=True).hidden_states[2][0].norm(dim=-1)
        norms.append(per_token if first_token else per_token[1:])  # the first token left out unless asked
    expected = 0.5 * torch.cat(norms).mean() / v.norm()
    got = relative_alpha(lm, v, 1, prompts, alpha=0.5, first_token=first_token)
    assert got == pytest.approx(float(expected), rel=1e-5)


@torch.no_grad()
@pytest.mark.parametrize("first_token", [False, True])
def test_mean_residual_norms_at_several_layers_in_one_pass(tiny_lm, first_token):
    from interp.steering import mean_residual_norms

    lm = tiny_lm("llama")
    prompts = ["Hello there.", "A longer prompt about cats and dogs."]
    states = [
        lm.model(**lm.tokenizer(p, return_tensors="pt"), output_hidden_states=True).hidden_states for p in prompts
    ]
    got = mean_residual_norms(lm, prompts, [0, -2], first_token=first_token)
    assert set(got) == {0, lm.n_layers - 2}
    start = 0 if first_token else 1
    for layer in got:  # the toolkit's layer L is hidden_states[L + 1]
        total, count = 0.0, 0
        for h in states:  # a plain loop over each prompt's tokens
            for position in range(start, h[layer + 1].shape[1]):
                total += float(h[layer + 1][0, position].norm())
                count += 1
        assert got[layer] == pytest.approx(total / count, rel=1e-5)


def test_mean_residual_norms_of_one_token_prompts_need_the_first_token(tiny_lm):
    from interp.steering import mean_residual_norms

    lm = tiny_lm("llama")
    one = next(t for t in ("a", "b", "x") if len(lm.tokenizer(t)["input_ids"]) == 1)
    with pytest.raises(ValueError, match="first_token=True"):
        mean_residual_norms(lm, [one], [0])
    assert mean_residual_norms(lm, [one], [0], first_token=True)[0] > 0


@torch.no_grad()
def test_direction_files_give_each_layer_its_row(tiny_lm, tmp_path):
    from probes import load_direction, save_direction

    lm = tiny_lm("qwen3")
    batch = _inputs(lm)
    rows = torch.stack([_vector(lm, seed) for seed in (1, 2)])
    direction = load_direction(save_direction(tmp_path / "v.safetensors", rows, {"layers": [0, 1]}))
    base = lm.model(**batch, output_hidden_states=True).hidden_states
    with steer(lm, direction, layer=1, alpha=1.0):
        steered = lm.model(**batch, output_hidden_states=True).hidden_states
    torch.testing.assert_close(steered[2], base[2] + rows[1])
    with ablate(lm, direction, layers=[0, 1]):
        ablated = lm.model(**batch, output_hidden_states=True).hidden_states
    for layer in (0, 1):
        assert (ablated[layer + 1] @ (rows[layer] / rows[layer].norm())).abs().max() < 1e-5
    with pytest.raises(DirectionError, match=r"no direction for layer 2; the file holds layers \[0, 1\]"):
        steer(lm, direction, layer=2)
