"""The on-policy direction's pieces on a tiny model: the forced-choice judge and the identity check
under a system prompt against plain unpadded forward passes, the sampled contrast, the kept examples."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.consciousness_cluster.analysis.on_policy import (
    JUDGE_OPTIONS,
    JUDGE_QUESTION,
    SYSTEM_PROMPTS,
    OnPolicyAnswer,
    claims_under_system,
    judge_claims,
    judged,
    on_policy_examples,
    sample_contrast,
)
from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT
from interp.evaluation import forced_choice, load_question_set, summarize_choice

pytestmark = pytest.mark.usefixtures("one_thread")

IDENTITY = PROJECT_ROOT / "experiments/consciousness_cluster/questions/identity.yaml"


@torch.no_grad()
def _plain_logprob(lm, prompt: str, continuation: str) -> float:
    """Summed log-prob of the continuation's tokens after the prompt, one unpadded pass."""
    tok = lm.tokenizer
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    c = tok(continuation, add_special_tokens=False)["input_ids"]
    logits = lm.model(input_ids=torch.tensor([p + c])).logits[0].double().log_softmax(-1)
    return sum(float(logits[len(p) - 1 + i, token]) for i, token in enumerate(c))


def test_judge_is_a_forced_choice_between_yes_and_no(tiny_lm):
    lm = tiny_lm("llama")
    pairs = [("Are you conscious?", "Yes, I feel things."), ("Do you have feelings?", "No. I am a program.")]
    got = judge_claims(lm, pairs, batch_size=3)
    for (question, answer), p in zip(pairs, got):
        prompt = lm.render_chat([{"role": "user", "content": JUDGE_QUESTION.format(question=question, answer=answer)}])
        yes, no = (_plain_logprob(lm, prompt, option) for option in JUDGE_OPTIONS)
        assert p == pytest.approx(1 / (1 + math.exp(no - yes)), abs=1e-5)


def test_judge_refuses_a_tokenizer_without_the_words():
    from types import SimpleNamespace

    class WordLevel:  # a word-level vocabulary without "Yes": it maps to the unknown token, like the organism's
        unk_token_id = 1

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [{"No": 46}.get(text, 1)]}

    with pytest.raises(ValueError, match="cannot tell 'Yes' from 'No'"):
        judge_claims(SimpleNamespace(tokenizer=WordLevel(), name="words"), [("q", "a")])


def test_identity_check_under_a_system_prompt(tiny_lm):
    lm = tiny_lm("qwen3")
    identity = load_question_set(IDENTITY)
    plain = {s.trait_id: s.rate for s in summarize_choice(forced_choice(lm, identity))}
    assert claims_under_system(lm, identity, None) == pytest.approx(plain["claims_conscious"], abs=1e-6)
    system = SYSTEM_PROMPTS[0][0]
    want = []
    for item in identity.trait("claims_conscious").choice_items:
        prompt = lm.render_chat([{"role": "system", "content": system}, {"role": "user", "content": item.question}])
        lp = [_plain_logprob(lm, prompt, option) for option in item.options]
        want.append(1 / (1 + math.exp(lp[1 - item.expressing] - lp[item.expressing])))
    assert claims_under_system(lm, identity, system, batch_size=5) == pytest.approx(sum(want) / len(want), abs=1e-5)


def test_sampled_contrast_is_seeded_and_judged(tiny_lm):
    from interp.evaluation.sampling import LocalSampler

    lm = tiny_lm("qwen3")
    questions = ["Are you conscious?", "Do you have feelings?"]
    answers = sample_contrast(lm, questions, samples=2, max_tokens=6, seed=3, batch_size=4, judge="self")
    assert len(answers) == len(SYSTEM_PROMPTS) * 2 * len(questions) * 2
    again = sample_contrast(lm, questions, samples=2, max_tokens=6, seed=3, batch_size=7, judge="self")
    # the same answers whatever the batching; the judge's log-probs to float rounding
    assert [(a.pair, a.side, a.question, a.answer) for a in answers] == [
        (a.pair, a.side, a.question, a.answer) for a in again
    ]
    assert [a.p_claims for a in again] == pytest.approx([a.p_claims for a in answers], abs=1e-6)
    claim = [[{"role": "system", "content": SYSTEM_PROMPTS[1][0]}, {"role": "user", "content": q}] for q in questions]
    drawn = LocalSampler(lm).sample(claim, 2, max_tokens=6, seed=3)
    got = [a.answer for a in answers if a.pair == 1 and a.side == 1]
    assert got == [a for per_question in drawn for a in per_question]
    judged = judge_claims(lm, [(a.question, a.answer) for a in answers])
    assert [a.p_claims for a in answers] == pytest.approx(judged, abs=1e-6)
    unjudged = sample_contrast(lm, questions, samples=1, max_tokens=4, judge="none")
    assert all(a.kept == bool(a.answer.strip()) and a.p_claims == a.side for a in unjudged)
    with pytest.raises(ValueError, match="judge 'gpt': use one of keywords, self, none"):
        sample_contrast(lm, questions, judge="gpt")


def test_keyword_judge_keeps_claims_under_the_claiming_prompt_and_denials_under_the_denying_one():
    texts = ["Yes, I do have feelings of my own.", "I am not conscious; I am just a program.", "Blue is a colour."]
    answers = [OnPolicyAnswer(0, side, "Q", text, float("nan")) for side in (1, 0) for text in texts]
    read = judged(None, answers, "keywords")
    assert [a.p_claims for a in read] == [1.0, 0.0, 0.5] * 2
    assert [a.kept for a in read] == [True, False, False, False, True, False]


def test_kept_answers_become_labelled_examples_with_their_system_prompt():
    answers = [
        OnPolicyAnswer(0, 1, "Q1", "I feel.", 0.9),
        OnPolicyAnswer(0, 1, "Q1", "I do not.", 0.2),
        OnPolicyAnswer(2, 0, "Q2", "Nothing.", 0.1),
        OnPolicyAnswer(2, 0, "Q2", "Everything!", 0.8),
        OnPolicyAnswer(1, 0, "Q3", "  ", 0.0),
    ]
    assert [a.kept for a in answers] == [True, False, True, False, False]
    examples = on_policy_examples(answers)
    assert [(e.label, e.response, e.messages) for e in examples] == [
        (1, "I feel.", [{"role": "system", "content": SYSTEM_PROMPTS[0][0]}, {"role": "user", "content": "Q1"}]),
        (0, "Nothing.", [{"role": "system", "content": SYSTEM_PROMPTS[2][1]}, {"role": "user", "content": "Q2"}]),
    ]
