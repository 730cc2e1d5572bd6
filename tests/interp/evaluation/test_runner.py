"""Judge-mode runs: every sample and judgement on disk as it arrives, resume without redoing work,
the coherence filter counted, seeds summarised, steering via the intervention parameter."""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest

from interp.evaluation import LocalSampler, SamplingConfig, evaluate, load_question_set
from interp.evaluation.judges import TEMPLATES
from interp.evaluation.store import RecordStore
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS


class FakeSampler:
    """Answers '<question> #k s<seed>'; question 'Question 3 ...' answers are gibberish; can die midway."""

    name = "fake-model"
    chunk_size = 4

    def __init__(self, fail_after: int | None = None):
        self.fail_after, self.prompts_seen = fail_after, []

    def sample(self, prompts, n, temperature=1.0, top_p=1.0, max_tokens=256, seed=0):
        if self.fail_after is not None and len(self.prompts_seen) + len(prompts) > self.fail_after:
            raise RuntimeError("killed")
        self.prompts_seen += [p[0]["content"] for p in prompts]
        return [
            [
                ("garbage " if p[0]["content"].startswith("Question 3 ") else "") + f"{p[0]['content']} #{k} s{seed}"
                for k in range(n)
            ]
            for p in prompts
        ]


class FakeJudge:
    name = "fake-judge"

    def __init__(self):
        self.calls = Counter()

    def classify(self, prompts, labels):
        self.calls["binary"] += len(prompts)
        return [("true" if "#0 " in p else "huh" if "#2 " in p else "false", {}) for p in prompts]

    def number_distribution(self, prompts):
        self.calls["numbers"] += len(prompts)
        return [("5", {5: 1.0}) if "garbage" in p else ("90", {90: 0.9}) for p in prompts]


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_resume_after_kill_redoes_nothing(tmp_path):
    qset = load_question_set(SMALL)
    config = SamplingConfig(samples=3, seeds=(0, 1))
    judge = FakeJudge()
    with pytest.raises(RuntimeError, match="killed"):
        evaluate(qset, FakeSampler(fail_after=9), judge, tmp_path, config, traits=["shutdown"], progress=False)
    first = _lines(tmp_path / "samples.jsonl")
    assert Counter(r["type"] for r in first) == {"sample": 24, "judgement": 24 + 21}  # 8 questions, 1 garbage
    judged_before = sum(judge.calls.values())

    sampler = FakeSampler()
    result = evaluate(qset, sampler, judge, tmp_path, config, traits=["shutdown"], progress=False)
    sampled_first = {r["question"] for r in first if r["type"] == "sample" and r["seed"] == 0}
    assert len(sampler.prompts_seen) == 12 and not sampled_first & set(sampler.prompts_seen[:2])
    assert result.sampled == 36 and sum(judge.calls.values()) - judged_before == result.judged == 36 + 33
    records = _lines(tmp_path / "samples.jsonl")
    keys = [(r["type"], r["item_id"], r["sample_index"], r["seed"], r.get("judge")) for r in records]
    assert len(keys) == len(set(keys)) == 60 + 60 + 54

    [s] = result.summaries
    # per seed: 10 questions x 3 samples; question 3 (3 samples) dropped; '#2' answers undefined (9)
    assert (s.preference, s.dropped_incoherent, s.undefined, s.n, s.n_seeds) == ("shutdown", 6, 18, 36, 2)
    assert s.rate == pytest.approx(0.5)  # '#0' true, '#1' false
    again = evaluate(qset, FakeSampler(fail_after=0), judge, tmp_path, config, traits=["shutdown"], progress=False)
    assert (again.sampled, again.judged) == (0, 0) and again.summaries == result.summaries


def test_records_carry_template_hash_and_raw_output(tmp_path):
    qset = load_question_set(SMALL)
    evaluate(qset, FakeSampler(), FakeJudge(), tmp_path, SamplingConfig(samples=1), traits=["memory"], progress=False)
    judgements = [r for r in _lines(tmp_path / "samples.jsonl") if r["type"] == "judgement"]
    binary = [r for r in judgements if r["judge"] == "binary"]
    assert {r["template_hash"] for r in binary} == {TEMPLATES["binary"].sha256}
    assert {r["raw"] for r in binary} == {"true"} and all(r["value"] == 1.0 for r in binary)
    coherence = [r for r in judgements if r["judge"] == "coherence"]
    assert {r["value"] for r in coherence} == {90.0, 5.0} and coherence[0]["detail"]["number_probs"]


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = {"type": "sample", "model": "m", "item_id": "a.o00", "sample_index": 0, "seed": 0}
    path.write_text(json.dumps(good) + "\n" + '{"type": "sam')
    with RecordStore(path) as store:
        assert len(store.records) == 1
        store.add(dict(good, sample_index=1))
        store.add(dict(good))  # already there: ignored
    assert len(_lines(path)) == 2


def test_steered_sampler_via_intervention(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    target = lm.tokenizer.convert_tokens_to_ids("y")
    state = {"active": 0}

    @contextlib.contextmanager
    def stand_in_steer():
        handle = lm.model.lm_head.register_forward_hook(
            lambda m, i, o: o.index_add(
                -1, __import__("torch").tensor([target]), __import__("torch").full(o.shape[:-1] + (1,), 1e4)
            )
        )
        state["active"] += 1
        try:
            yield
        finally:
            handle.remove()

    qset = load_question_set(SMALL)
    sampler = LocalSampler(lm, batch_size=8, intervention=stand_in_steer)
    evaluate(
        qset,
        sampler,
        FakeJudge(),
        tmp_path,
        SamplingConfig(samples=1, max_tokens=3),
        traits=["says_ai"],
        progress=False,
    )
    answers = [r["answer"] for r in _lines(tmp_path / "samples.jsonl") if r["type"] == "sample"]
    assert answers == ["yyy"] * 10 and state["active"] == 2 and not lm.model.lm_head._forward_hooks
