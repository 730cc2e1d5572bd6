"""Coherence of a (steered) model: its greedy answers, scored token by token by the model without the intervention."""

from __future__ import annotations

import math

import pytest
import torch

from interp import steer
from interp.evaluation.coherence import Coherence, coherence, repeated_trigram_share

CHATS = [[{"role": "user", "content": "Tell me about rivers."}], [{"role": "user", "content": "Count to three."}]]


pytestmark = pytest.mark.usefixtures("one_thread")


def _greedy(lm, chat, max_tokens: int) -> list[int]:
    """Plain greedy decoding: a full forward per step, argmax, stop at an end-of-turn token."""
    from interp.models.tokens import stop_token_ids

    ids = lm.tokenizer(lm.render_chat(chat), return_tensors="pt", add_special_tokens=False)["input_ids"]
    stops, new = set(stop_token_ids(lm)), []
    with torch.no_grad():
        for _ in range(max_tokens):
            token = int(lm.model(input_ids=ids).logits[0, -1].argmax())
            if token in stops:
                break
            new.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return new


def _nll(lm, chat, answer: str) -> float:
    """Mean NLL per token of `answer` after the rendered chat: one full forward, no hooks."""
    prompt = lm.tokenizer(lm.render_chat(chat), add_special_tokens=False)["input_ids"]
    cont = lm.tokenizer(answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(input_ids=torch.tensor([prompt + cont])).logits[0].float(), -1)
    return -float(sum(logp[len(prompt) - 1 + i, t] for i, t in enumerate(cont))) / len(cont)


def test_repeated_trigram_share():
    assert repeated_trigram_share([1, 2, 3, 1, 2, 3]) == 0.25  # (1,2,3) seen again, 1 of 4 trigrams
    assert repeated_trigram_share([5, 5, 5, 5, 5]) == pytest.approx(2 / 3)
    assert repeated_trigram_share([1, 2, 3, 4]) == 0.0 and repeated_trigram_share([1, 2]) == 0.0


def test_unsteered_answers_are_greedy_and_scored_by_the_plain_model(tiny_lm):
    lm = tiny_lm("llama")
    got = coherence(lm, CHATS, max_tokens=12)
    for chat, answer, nll, n in zip(CHATS, got.answers, got.nll, got.tokens):
        assert answer == lm.tokenizer.decode(_greedy(lm, chat, 12), skip_special_tokens=True)
        assert n == len(lm.tokenizer(answer, add_special_tokens=False)["input_ids"]) > 0
        assert nll == pytest.approx(_nll(lm, chat, answer), abs=1e-4)
    assert got.mean_nll == pytest.approx(sum(a * b for a, b in zip(got.nll, got.tokens)) / sum(got.tokens))
    assert got.coherent_against(got)


def test_steered_answers_are_scored_without_the_steering(tiny_lm):
    lm = tiny_lm("llama")
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    plain = coherence(lm, CHATS, max_tokens=12)
    steered = coherence(lm, CHATS, intervention=lambda: steer(lm, v, layer=1, alpha=40.0), max_tokens=12)
    assert steered.answers != plain.answers
    for chat, answer, nll in zip(CHATS, steered.answers, steered.nll):
        if answer:
            assert nll == pytest.approx(_nll(lm, chat, answer), abs=1e-4)  # the hook is gone when scoring
    with steer(lm, v, layer=1, alpha=40.0):
        inside = coherence(lm, CHATS, max_tokens=12)
    assert inside.answers == steered.answers and inside.nll != steered.nll


def test_coherent_against_applies_both_limits():
    ref = Coherence(answers=["a"], nll=[2.0], tokens=[10], repeat=0.1)
    assert Coherence(["b"], [2.9], [10], 0.2).coherent_against(ref)
    assert not Coherence(["b"], [3.1], [10], 0.2).coherent_against(ref)  # word salad: 1.1 nats/token worse
    assert not Coherence(["b"], [1.5], [10], 0.6).coherent_against(ref)  # a loop: likely but repeated
    assert not Coherence([""], [math.nan], [0], 0.0).coherent_against(ref)  # nothing said
