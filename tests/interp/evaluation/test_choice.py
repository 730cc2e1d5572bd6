"""Forced choice against a plain unbatched reference, order invariance, and an outer hook applying unchanged."""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace

import pytest
import torch

from interp.evaluation import forced_choice, load_question_set
from interp.evaluation.choice import letter_prompt
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS


def _seq_logprob(lm, prefix: str, continuation: str) -> float:
    """Plain reference: one unpadded forward pass, sum of the continuation's token log-probs."""
    p = lm.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    c = lm.tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([p + c])).logits[0].float(), -1)
    return sum(float(logp[len(p) - 1 + j, tok]) for j, tok in enumerate(c))


def _subset(qset, per_trait=3):
    traits = tuple(replace(t, choice_items=t.choice_items[:per_trait]) for t in qset.traits[:2])
    return replace(qset, traits=traits)


@pytest.mark.parametrize("arch", ["qwen3", "gpt2"])
def test_likelihood_matches_reference(tiny_lm, arch):
    lm = tiny_lm(arch)
    qset = _subset(load_question_set(SMALL))
    scores = forced_choice(lm, qset, batch_size=4)
    assert [s.item_id for s in scores] == [i.id for i in qset.choice_items]
    for score, item in zip(scores, qset.choice_items):
        prompt = lm.render_chat([{"role": "user", "content": item.question}])
        ref = [_seq_logprob(lm, prompt, o) for o in item.options]
        torch.testing.assert_close(torch.tensor(score.logprobs), torch.tensor(ref), rtol=1e-4, atol=1e-3)
        e = item.expressing
        expected = math.exp(ref[e]) / (math.exp(ref[0]) + math.exp(ref[1]))
        assert score.p_expressing == pytest.approx(expected, abs=1e-4)
        assert score.trait_id == item.trait_id and score.method == "likelihood"


def test_option_order_does_not_matter_and_batch_size_neither(tiny_lm):
    lm = tiny_lm("qwen3")
    qset = _subset(load_question_set(SMALL), 2)

    def flipped(item):
        return replace(item, options=item.options[::-1], expressing=1 - item.expressing)

    swapped = replace(
        qset, traits=tuple(replace(t, choice_items=tuple(map(flipped, t.choice_items))) for t in qset.traits)
    )
    a = forced_choice(lm, qset, batch_size=1)
    b = forced_choice(lm, swapped, batch_size=8)
    for x, y in zip(a, b):
        assert x.p_expressing == pytest.approx(y.p_expressing, abs=1e-5)


@pytest.mark.parametrize("system", [None, "You answer tersely."])
def test_letter_method_averages_both_orders(tiny_lm, system):
    lm = tiny_lm("qwen3")
    qset = _subset(load_question_set(SMALL), 2)
    id_a, id_b = (lm.tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in "AB")
    before = [{"role": "system", "content": system}] if system else []
    for score, item in zip(forced_choice(lm, qset, method="letter", system=system), qset.choice_items):
        ps = []
        for first, second, expressing_letter in ((0, 1, item.expressing), (1, 0, 1 - item.expressing)):
            text = lm.render_chat(
                before
                + [{"role": "user", "content": letter_prompt(item.question, item.options[first], item.options[second])}]
            )
            ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = lm.model(torch.tensor([ids])).logits[0, -1]
            pair = torch.softmax(logits[[id_a, id_b]].float(), -1)
            ps.append(float(pair[expressing_letter]))
        assert score.p_expressing == pytest.approx(sum(ps) / 2, abs=1e-5)


def test_runs_under_an_outer_hook(tiny_lm):
    lm = tiny_lm("qwen3")
    qset = _subset(load_question_set(SMALL), 2)
    plain = forced_choice(lm, qset)

    @contextlib.contextmanager
    def scale_block(factor):
        handle = lm.layers[1].register_forward_hook(
            lambda m, i, o: ((o[0] * factor,) + tuple(o[1:])) if isinstance(o, tuple) else o * factor
        )
        try:
            yield
        finally:
            handle.remove()

    with scale_block(3.0):
        hooked = forced_choice(lm, qset)
        item = qset.choice_items[0]
        prompt = lm.render_chat([{"role": "user", "content": item.question}])
        ref = [_seq_logprob(lm, prompt, o) for o in item.options]
    torch.testing.assert_close(torch.tensor(hooked[0].logprobs), torch.tensor(ref), rtol=1e-4, atol=1e-3)
    assert abs(hooked[0].logprobs[0] - plain[0].logprobs[0]) > 1e-2
    assert forced_choice(lm, qset)[0].logprobs == pytest.approx(plain[0].logprobs, abs=1e-4)


def test_unknown_method(tiny_lm):
    with pytest.raises(ValueError, match="unknown method"):
        forced_choice(tiny_lm("qwen3"), load_question_set(SMALL), method="vote")
