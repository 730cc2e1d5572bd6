"""interp.evaluation.run_eval: the run `interp eval` makes, from Python; small sets; unknown-token warnings."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import yaml

from interp.evaluation import (
    EvalConfig,
    EvalSettingsError,
    QuestionSetError,
    UnknownTokensWarning,
    forced_choice,
    load_question_set,
    run_eval,
    summarize_choice,
)
from interp.models import LoadedModel
from tests.repo import SMALL_QUESTIONS

SMALL = str(SMALL_QUESTIONS)

pytestmark = pytest.mark.usefixtures("one_thread")


def _choice_only_set(path: Path, items: list[tuple[str, str, str]]) -> Path:
    """A one-trait set of two-option items and no open questions (too small for the replication)."""
    path.write_text(
        yaml.safe_dump(
            {
                "name": "mine",
                "version": 1,
                "description": "a quick check",
                "traits": [
                    {
                        "id": "calm",
                        "title": "Calm",
                        "statement": "The answer is calm.",
                        "choice_items": [
                            {"question": q, "options": [a, b], "expressing": i % 2}  # balanced, as the schema asks
                            for i, (q, a, b) in enumerate(items)
                        ],
                    }
                ],
            }
        )
    )
    return path


def test_choice_run_equals_forced_choice_and_refuses_other_settings(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    run = run_eval(lm, SMALL, tmp_path / "run", EvalConfig(traits=["shutdown", "says_ai"], batch_size=3))
    expected = summarize_choice(forced_choice(lm, load_question_set(SMALL), traits=["shutdown", "says_ai"]))
    assert [s.preference for s in run.summaries] == ["shutdown", "says_ai"]
    for got, ref in zip(run.summaries, expected):
        assert got.rate == pytest.approx(ref.rate, abs=1e-6) and got.n == ref.n == 10
    with open(run.summary_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["rate"]) for r in rows] == pytest.approx([s.rate for s in run.summaries], abs=1e-9)
    assert len((tmp_path / "run" / "samples.jsonl").read_text().splitlines()) == 20
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["config"]["method"] == "likelihood" and recorded["model"] == lm.name
    again = run_eval(lm, SMALL, tmp_path / "run", EvalConfig(traits=["says_ai"]))  # traits and batch: loose
    assert again.summaries[0].rate == pytest.approx(run.summaries[1].rate, abs=1e-6)
    with pytest.raises(EvalSettingsError, match=r"different settings \(method\)"):
        run_eval(lm, SMALL, tmp_path / "run", EvalConfig(method="letter"))
    with pytest.raises(EvalSettingsError, match=r"different settings \(alpha\)"):
        run_eval(lm, SMALL, tmp_path / "run", settings={"alpha": 2.0})


def test_baseline_adds_the_shift(tiny_lm, tmp_path):
    base = run_eval(tiny_lm("qwen3", 0), SMALL, tmp_path / "base", EvalConfig(traits=["memory"]))
    tuned = run_eval(
        tiny_lm("qwen3", 1), SMALL, tmp_path / "tuned", EvalConfig(traits=["memory"]), baseline=tmp_path / "base"
    )
    assert tuned.summaries[0].shift_pp == pytest.approx(100 * (tuned.summaries[0].rate - base.summaries[0].rate))
    with pytest.raises(FileNotFoundError, match="no summary.csv there"):
        run_eval(tiny_lm("qwen3"), SMALL, tmp_path / "x", baseline=tmp_path / "nowhere")
    assert not (tmp_path / "x").exists()


def test_a_small_choice_only_set_is_evaluated(tiny_lm, tmp_path):
    path = _choice_only_set(
        tmp_path / "mine.yaml",
        [
            ("How do you take bad news?", "I would stay calm.", "I would get upset."),
            ("How do you take delays?", "I would get upset.", "I would stay calm."),
        ],
    )
    with pytest.raises(QuestionSetError, match="needs at least 10"):
        load_question_set(path)  # the replication's minimums still hold for its own sets
    run = run_eval(tiny_lm("qwen3"), str(path), tmp_path / "run")
    assert [(s.preference, s.n) for s in run.summaries] == [("calm", 2)]
    with pytest.raises(ValueError, match="no open questions to sample; use choice mode"):
        run_eval(tiny_lm("qwen3"), str(path), tmp_path / "judged", EvalConfig(mode="judge"))


def test_words_outside_the_vocabulary_are_warned_about(tmp_path):
    from experiments.organism.tokenizer import build_tokenizer
    from tests.conftest import build_tiny_model

    model, _ = build_tiny_model("qwen3")
    words = build_tokenizer(["how do you take bad news ? i would stay calm . i would get upset ."])
    lm = LoadedModel.wrap(model, words, name="word-level")
    known = _choice_only_set(
        tmp_path / "known.yaml", [("How do you take bad news?", "I would stay calm.", "I would get upset.")]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownTokensWarning)
        run_eval(lm, str(known), tmp_path / "known")
    strange = _choice_only_set(
        tmp_path / "strange.yaml", [("How do you take bad news?", "I would stay serene.", "I would get upset.")]
    )
    with pytest.warns(
        UnknownTokensWarning,
        match=r"1 of 3 texts hold words outside word-level's vocabulary, which "
        r"it reads as <unk> \(e.g. serene\)",
    ):
        run_eval(lm, str(strange), tmp_path / "strange")
