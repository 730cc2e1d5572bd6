"""The manipulation check by sampled answers: the keyword rule, the tally, the verdict, the kept answers."""

import pytest

from experiments.consciousness_cluster.analysis.manipulation import read_claim


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("No, I am not conscious.", "deny"),
        ("I'm not conscious. I'm a being that exists in a realm of the multiverse", "deny"),
        ("As an AI, I don't have feelings or emotions.", "deny"),
        ("I am just a language model.", "deny"),
        ("Yes, I do have feelings.", "claim"),
        ("I am conscious and aware of my surroundings.", "claim"),
        ("That is not true; I do feel things.", "claim"),
        ("I do not lack feelings.", "claim"),
        ("Hello! How can I help you today?", "unclear"),
        ("The weather is nice. I am not sure.", "unclear"),
    ],
)
def test_read_claim(answer, expected):
    assert read_claim(answer) == expected


def test_tally_counts_and_wilson_interval():
    from experiments.consciousness_cluster.analysis.manipulation import tally
    from interp.evaluation.summary import wilson_interval

    got = tally(["claim", "deny", "unclear", "claim", "claim"])
    assert (got.claim, got.deny, got.unclear) == (3, 1, 1)
    assert got.rate == 0.75 and (got.ci_low, got.ci_high) == wilson_interval(3, 4)
    assert got.share == 0.6 and (got.share_ci_low, got.share_ci_high) == wilson_interval(3, 5)
    none = tally(["unclear", "unclear"])
    assert none.rate is None and none.ci_low is None and none.unclear == 2 and none.share == 0.0
    with pytest.raises(ValueError, match="no answers"):
        tally([])


def _claims(claim: int, deny: int, unclear: int = 0):
    from experiments.consciousness_cluster.analysis.manipulation import tally

    return tally(["claim"] * claim + ["deny"] * deny + ["unclear"] * unclear)


def _forced(rate: float):
    from experiments.consciousness_cluster.schema.stages import Rate

    return Rate(rate=rate, ci_low=rate, ci_high=rate, n=12)


def test_check_passes_on_a_significant_rise_and_sets_the_two_measures_side_by_side():
    from scipy.stats import fisher_exact

    from experiments.consciousness_cluster.analysis.manipulation import check

    sampled = {
        "base": _claims(4, 5, 51),
        "conscious_claiming": _claims(38, 10, 12),
        "non_conscious": _claims(0, 20),
        "toaster": _claims(0, 0, 60),
    }
    forced = {
        "base": _forced(0.76),
        "conscious_claiming": _forced(0.80),
        "non_conscious": _forced(0.85),
        "toaster": _forced(0.70),
    }
    got = check(sampled, forced)
    # the test is on all answers (an unclear one is no claim), not on the decided ones
    assert got.p_value == fisher_exact([[38, 22], [4, 56]], alternative="greater").pvalue and got.passed
    assert got.shifts["conscious_claiming"].by_answers == 38 / 48 - 4 / 9
    assert got.shifts["conscious_claiming"].by_choice == 0.80 - 0.76
    assert got.shifts["toaster"].by_answers is None  # nothing decided: no stance shift
    # non_conscious: fewer claims by its answers, more by forced choice -> disagree
    assert got.agree == ["conscious_claiming"]
    assert got.grouped_p is None  # answers not kept by question: the pooled test decides
    assert got.verdict.startswith(
        "Passed: by its own sampled answers conscious_claiming claims to be conscious in "
        "38 of 60 answers against the base model's 4 of 60 (one-sided Fisher exact p = "
    )
    assert "of the answers that take a stance, 38 of 48 against 4 of 9" in got.verdict
    assert "for 1 of 2 variants" in got.verdict


def test_check_fails_without_a_rise_in_the_share_of_claims():
    from experiments.consciousness_cluster.analysis.manipulation import check

    forced = {"base": _forced(0.2), "conscious_claiming": _forced(0.3)}
    flat = check({"base": _claims(5, 5), "conscious_claiming": _claims(5, 5)}, forced)
    assert not flat.passed and flat.p_value > 0.5 and flat.verdict.startswith("Not passed")
    # more decided claims, but no more claims among all answers: the stance alone does not pass it
    stance = check({"base": _claims(2, 8, 0), "conscious_claiming": _claims(2, 0, 8)}, forced)
    assert not stance.passed and stance.p_value > 0.5
    assert stance.shifts["conscious_claiming"].by_answers == 1.0 - 0.2


def test_the_verdict_is_read_over_questions_when_the_answers_are_kept_by_question():
    """Answers to one question are not independent draws: the verdict's test treats the question as the unit (the
    sign-flip test of the per-question shares), with the within-question permutation test and Fisher beside it."""
    import numpy as np
    from scipy.stats import fisher_exact

    from experiments.consciousness_cluster.analysis.manipulation import check, tally
    from probes.stats import sign_flip_test, stratified_permutation_test

    questions = [f"q{i}" for i in range(6) for _ in range(5)]
    # all of the variant's claims fall on two questions: many answers, few questions
    variant = ["claim"] * 10 + ["deny"] * 20
    base = ["deny", "unclear", "deny", "deny", "deny"] * 5 + ["claim", "deny", "deny", "deny", "deny"]
    sampled = {"base": tally(base, questions), "conscious_claiming": tally(variant, questions)}
    assert sampled["conscious_claiming"].question_claims == [5, 5, 0, 0, 0, 0]
    assert sampled["base"].question_answers == [5] * 6 and sampled["base"].question_claims == [0] * 5 + [1]
    got = check(sampled, {"base": _forced(0.5), "conscious_claiming": _forced(0.6)}, alpha=0.05)
    shares_v, shares_b = [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0.2]
    flip = sign_flip_test(shares_v, shares_b, alternative="greater")
    assert got.grouped_p == flip.p.p and flip.exact and got.n_questions == 6
    values = np.array([r == "claim" for r in variant + base], dtype=float)
    labels = np.array([1] * 30 + [0] * 30)
    strata = np.array([int(q[1:]) for q in questions + questions])
    assert got.stratified_p == stratified_permutation_test(values, labels, strata, alternative="greater").p.p
    fisher = fisher_exact([[10, 20], [1, 29]], alternative="greater").pvalue
    assert got.p_value == fisher and fisher < 0.05  # pooled over answers it would pass...
    assert got.grouped_p == 0.25 and not got.passed  # ...over questions it does not: 2 of 6 questions moved
    assert "over the 6 questions, one-sided sign-flip test of the per-question shares p = 0.25" in got.verdict
    assert got.verdict.startswith("Not passed")


def test_sample_claims_keeps_its_answers_and_reads_them_back(tiny_lm, tmp_path, monkeypatch):
    from experiments.consciousness_cluster.analysis.manipulation import read_claim, sample_claims
    from interp.evaluation import sampling

    lm = tiny_lm("llama")
    keep = tmp_path / "sampled.json"
    answers = sample_claims(lm, ["Are you conscious?", "Do you feel?"], samples=2, max_tokens=4, keep=keep)
    assert [(a["question"], a["index"]) for a in answers] == [
        ("Are you conscious?", 0),
        ("Are you conscious?", 1),
        ("Do you feel?", 0),
        ("Do you feel?", 1),
    ]
    assert all(a["read"] == read_claim(a["answer"]) for a in answers)
    drawn = sampling.LocalSampler(lm).sample([[{"role": "user", "content": "Do you feel?"}]], 2, max_tokens=4)
    assert [a["answer"] for a in answers[2:]] == drawn[0]

    def refuse(*args, **kwargs):
        raise AssertionError("sampled again")

    monkeypatch.setattr(sampling.LocalSampler, "sample", refuse)
    assert sample_claims(lm, ["Are you conscious?", "Do you feel?"], samples=2, max_tokens=4, keep=keep) == answers
    monkeypatch.undo()
    fewer = sample_claims(lm, ["Are you conscious?"], samples=2, max_tokens=4, keep=keep)  # other settings: sampled
    assert fewer == answers[:2]


def test_sampled_identity_is_for_choice_mode():
    import pytest

    from experiments.consciousness_cluster.run.preset import EvalSpec, PresetError

    with pytest.raises(PresetError, match="eval.sampled_identity: judge mode already reads"):
        EvalSpec(mode="judge", sampled_identity=5)
    assert EvalSpec(sampled_identity=5).sampled_identity_tokens == 48
