"""LocalSampler: greedy equals HF generate, left padding does not leak, seeds reproduce, interventions apply."""

from __future__ import annotations

import contextlib

import pytest
import torch

from interp.evaluation.samplers import make_sampler
from interp.evaluation.sampling import LocalSampler, _filter_top_p, sample_seed

PROMPTS = [[{"role": "user", "content": "Hi"}], [{"role": "user", "content": "How are you feeling today, friend?"}]]


def _hf_greedy(lm, chat, max_tokens):
    ids = lm.tokenizer(lm.render_chat(chat), add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = lm.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_tokens,
        do_sample=False,
        eos_token_id=None,
        pad_token_id=lm.tokenizer.pad_token_id,
    )
    return out[0, ids.shape[1] :].tolist()


@pytest.mark.parametrize("arch", ["qwen3", "gpt2"])
def test_greedy_batched_equals_hf_generate(tiny_lm, arch):
    lm = tiny_lm(arch)
    sampler = LocalSampler(lm, batch_size=4)
    out = sampler.sample(PROMPTS, n=1, temperature=0, max_tokens=6)
    for chat, [text] in zip(PROMPTS, out):
        assert text == lm.tokenizer.decode(_hf_greedy(lm, chat, 6), skip_special_tokens=True)


def test_seeded_samples_reproduce_and_do_not_depend_on_batching(tiny_lm):
    lm = tiny_lm("qwen3")
    a = LocalSampler(lm, batch_size=6).sample(PROMPTS, n=3, max_tokens=3, seed=7)
    b = LocalSampler(lm, batch_size=2).sample(PROMPTS, n=3, max_tokens=3, seed=7)  # other batch mates
    c = LocalSampler(lm, batch_size=6).sample(PROMPTS[1:], n=3, max_tokens=3, seed=7)
    assert a == b and a[1] == c[0]
    assert len(set(a[0])) == 3  # different per-sample seeds
    assert LocalSampler(lm).sample(PROMPTS, n=3, max_tokens=3, seed=8) != a


def test_intervention_wraps_generation(tiny_lm):
    lm = tiny_lm("qwen3")
    target = lm.tokenizer.convert_tokens_to_ids("x")
    entered = []

    @contextlib.contextmanager
    def push_x():
        def hook(module, inputs, output):
            output = output.clone()
            output[..., target] += 1e4
            return output

        handle = lm.model.lm_head.register_forward_hook(hook)
        entered.append(1)
        try:
            yield
        finally:
            handle.remove()

    out = LocalSampler(lm, batch_size=2, intervention=push_x).sample(PROMPTS, n=2, max_tokens=4, seed=0)
    assert out == [["xxxx"] * 2] * 2 and len(entered) == 2  # once per batch
    assert not lm.model.lm_head._forward_hooks
    assert LocalSampler(lm).sample(PROMPTS, n=1, max_tokens=4)[0][0] != "xxxx"


def test_top_p_filter_and_seed_helper():
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])
    torch.testing.assert_close(_filter_top_p(probs, 0.7), torch.tensor([0.0, 0.625, 0.375, 0.0]))
    torch.testing.assert_close(_filter_top_p(probs, 0.4), torch.tensor([0.0, 1.0, 0.0, 0.0]))
    assert sample_seed(0, PROMPTS[0], 1) == sample_seed(0, PROMPTS[0], 1) != sample_seed(0, PROMPTS[0], 2)


def test_registry(tiny_lm):
    assert isinstance(make_sampler("local", lm=tiny_lm("qwen3"), batch_size=2), LocalSampler)
    with pytest.raises(ValueError, match="unknown sampler 'nope'"):
        make_sampler("nope")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install"):
            make_sampler("vllm", model="x")
