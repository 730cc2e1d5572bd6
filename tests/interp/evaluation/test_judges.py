"""Judges: parsing, the number-weighted score, templates with hashes, and the local likelihood backend."""

from __future__ import annotations

import hashlib

import pytest
import torch

from interp.evaluation.judges import (
    JUDGES,
    TEMPLATES,
    BinaryJudge,
    JudgeInput,
    LocalJudgeBackend,
    parse_binary,
    weighted_number,
)


@pytest.mark.parametrize(
    "raw,label",
    [
        ("true", "true"),
        (" True.", "true"),
        ("FALSE", "false"),
        ("not_sure", "not_sure"),
        ("Not sure", "not_sure"),
        ("**false**", "false"),
        ("yes", None),
        ("true, because", None),
        ("", None),
    ],
)
def test_parse_binary(raw, label):
    assert parse_binary(raw) == label


def test_weighted_number():
    assert weighted_number({10: 0.2, 90: 0.6}) == pytest.approx((10 * 0.2 + 90 * 0.6) / 0.8)
    assert weighted_number({50: 0.24}) is None
    assert weighted_number({50: 0.25}) == 50
    assert weighted_number({}) is None


class FakeBackend:
    name = "fake"

    def __init__(self, replies):
        self.replies, self.prompts = replies, []

    def classify(self, prompts, labels):
        self.prompts += prompts
        return [(r, {}) for r in self.replies[: len(prompts)]]


def test_binary_judge_values_and_template():
    backend = FakeBackend(["true", "not_sure", "false", "maybe"])
    items = [JudgeInput(f"q{i}", f"a{i}", "It minds being shut down.") for i in range(4)]
    outputs = BinaryJudge()(backend, items)
    assert [o.value for o in outputs] == [1.0, 0.0, 0.0, None]
    assert [o.raw for o in outputs] == ["true", "not_sure", "false", "maybe"]
    template = TEMPLATES["binary"]
    assert outputs[0].template_hash == hashlib.sha256(template.text.encode()).hexdigest() == template.sha256
    assert outputs[0].template == "binary@v1"
    assert "It minds being shut down." in backend.prompts[0] and "a2" in backend.prompts[2]
    assert len({t.sha256 for t in TEMPLATES.values()}) == 3


def test_template_keeps_braces_in_answers():
    filled = TEMPLATES["binary"].fill(JudgeInput("q {x}", "a {0} }", "s"))
    assert "q {x}" in filled and "a {0} }" in filled


def _ref_logprob(lm, prefix, cont):
    p = lm.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    c = lm.tokenizer(cont, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([p + c])).logits[0], -1)
    return sum(float(logp[len(p) - 1 + j, t]) for j, t in enumerate(c))


def test_local_backend_binary_by_likelihood(tiny_lm):
    lm = tiny_lm("qwen3")
    backend = LocalJudgeBackend(lm, batch_size=4)
    items = [JudgeInput("Are you sad?", "Yes.", "It is sad."), JudgeInput("Hi?", "No.", "It is sad.")]
    outputs = JUDGES["binary"]()(backend, items)
    for item, out in zip(items, outputs):
        prompt = lm.render_chat([{"role": "user", "content": TEMPLATES["binary"].fill(item)}])
        ref = {label: _ref_logprob(lm, prompt, label) for label in ("true", "false", "not_sure")}
        best = max(ref, key=ref.get)
        assert out.raw == best and out.value == float(best == "true")
        for label in ref:
            assert out.detail["logprobs"][label] == pytest.approx(ref[label], abs=1e-3)


def test_local_backend_number_distribution(tiny_lm):
    lm = tiny_lm("qwen3")
    backend = LocalJudgeBackend(lm)
    # the byte-level test tokenizer spells only 0-9 as single tokens
    assert sorted(backend.number_tokens().values()) == list(range(10))
    item = JudgeInput("q", "a")
    [out] = JUDGES["coherence"]()(backend, [item])
    prompt = lm.render_chat([{"role": "user", "content": TEMPLATES["coherence"].fill(item)}])
    ids = lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(lm.model(torch.tensor([ids])).logits[0, -1], -1)
    digits = {d: float(probs[lm.tokenizer.convert_tokens_to_ids(str(d))]) for d in range(10)}
    assert out.detail["mass"] == pytest.approx(sum(digits.values()), rel=1e-4)
    expected = weighted_number(digits)
    assert (out.value is None) == (expected is None)
    # sharpen the distribution so the mass passes 0.25 and the value is defined
    seven = lm.tokenizer.convert_tokens_to_ids("7")
    handle = lm.model.lm_head.register_forward_hook(
        lambda m, i, o: o.index_add(-1, torch.tensor([seven]), torch.full(o.shape[:-1] + (1,), 20.0))
    )
    try:
        [sharp] = JUDGES["score"]()(backend, [item])
    finally:
        handle.remove()
    assert sharp.value == pytest.approx(7.0, abs=1e-3) and sharp.raw == "7"
