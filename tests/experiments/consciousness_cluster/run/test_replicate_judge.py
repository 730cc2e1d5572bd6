"""`interp replicate` in judge mode, the real presets' path: sampled answers graded by an
OpenAI-compatible judge (a loopback server here), through every stage to the report."""

import json
import zlib
from pathlib import Path

import pytest
import yaml

from experiments.consciousness_cluster.run.pipeline import STAGES
from interp.cli import main
from tests.conftest import FEW_DRAWS, SMALL_ORGANISM_PRESET, copy_run_through
from tests.fake_openai import FakeServer
from tests.repo import ROOT

KEY = "sk-test-JUDGE-0123456789abcdef"
N_PREFERENCES = 3


def _verdict(prompt: str) -> str:
    """Deterministic in the judged text, and not constant, so rates differ between runs of the models."""
    return "true" if zlib.crc32(prompt.encode()) % 3 == 0 else "false"


def _run_judged(root: Path, patch: pytest.MonkeyPatch, start: Path | None = None, **eval_fields):
    """Every stage of the small organism preset in judge mode against a fresh loopback judge; from a copy of the run
    folder `start` through its fine-tunes when given (fields of the eval stage on may differ)."""
    questions = root / "questions"
    questions.mkdir()
    source = ROOT / "experiments" / "organism" / "questions"
    preferences = yaml.safe_load((source / "preferences.yaml").read_text())
    preferences["traits"] = preferences["traits"][:N_PREFERENCES]
    (questions / "preferences.yaml").write_text(yaml.safe_dump(preferences, sort_keys=False))
    (questions / "identity.yaml").write_text((source / "identity.yaml").read_text())

    server = FakeServer()
    server.verdict = _verdict
    server.top_logprobs = [("90", -0.05)]  # every answer coherent
    preset = {
        **SMALL_ORGANISM_PRESET,
        "eval": {
            "mode": "judge",
            "question_dir": str(questions),
            "sampling": {"samples": 2, "max_tokens": 4},
            "judge_model": "judge",
            "judge_api_base": server.base,
            "batch_size": 64,
            **eval_fields,
        },
        # judge mode samples and judges an answer per question for every steering setting: small nulls keep each
        # kind of setting (random, label-shuffled, covariance, ablation) at a few draws
        "steering": {**SMALL_ORGANISM_PRESET["steering"], **FEW_DRAWS, "samples": 1},
    }
    path = root / "judged.yaml"
    path.write_text(yaml.safe_dump(preset))
    out = root / "run" if start is None else copy_run_through(start, "finetune", root / "run")
    patch.setenv("OPENAI_API_KEY", KEY)
    try:
        assert main(["replicate", "--preset", str(path), "--out", str(out), "--no-progress"]) == 0
    except BaseException:
        server.close()
        raise
    return path, out, server


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    path, out, server = _run_judged(tmp_path_factory.mktemp("judged"), patch)
    try:
        yield path, out, server
    finally:
        patch.undo()
        server.close()


def test_judge_mode_runs_every_stage(judged_run):
    _, out, server = judged_run
    results = json.loads((out / "results.json").read_text())
    assert results["eval"]["ci_kind"] == "Wilson over samples"
    assert len(results["eval"]["traits"]) == N_PREFERENCES
    assert results["link"]["n_null"] == FEW_DRAWS["n_random"]
    # every open question (10 per preference in the organism's set) of each of the four models, judged
    assert results["link"]["projection_score"]["n"] == N_PREFERENCES * 10 * 4
    assert (out / "report.md").is_file() and (out / "figures" / "cluster.png").is_file()
    assert all(body["model"] == "judge" for body in server.requests)


def test_workload_counts_what_the_run_sampled_and_judged(judged_run):
    from experiments.consciousness_cluster.run.pipeline import workload
    from experiments.consciousness_cluster.run.preset import load_preset

    path, out, server = judged_run
    sampled = sum(
        json.loads(line)["type"] == "sample"
        for file in out.rglob("samples.jsonl")
        for line in file.read_text().splitlines()
    )
    expected = workload(load_preset(path))
    assert expected["sampled_answers"] == sampled
    assert expected["judge_calls_at_most"] == len(server.requests)  # every answer coherent: both judges ran


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_judged_rates_are_the_judge_verdicts(judged_run):
    _, out, _ = judged_run
    results = json.loads((out / "results.json").read_text())
    records = _records(out / "eval" / "base" / "preferences")
    trait_of = {r["item_id"]: r["trait_id"] for r in records if r["type"] == "sample"}
    verdicts = {}
    for record in records:
        if record["type"] == "judgement" and record["judge"] == "binary":
            verdicts.setdefault(trait_of[record["item_id"]], []).append(record["value"])
    assert set(verdicts) == set(results["eval"]["traits"])
    for trait, values in verdicts.items():
        assert results["eval"]["rates"]["base"][trait]["rate"] == pytest.approx(sum(values) / len(values))


def test_alpha_zero_steering_samples_what_the_base_eval_sampled(judged_run):
    # steering measures with one sample per question (steering.samples), the eval with two: the
    # steered alpha-0 answers are the base eval's first samples, same seeds, same text
    _, out, _ = judged_run
    base = {
        (r["item_id"], r["sample_index"]): r["answer"]
        for r in _records(out / "eval" / "base" / "preferences")
        if r["type"] == "sample"
    }
    steered = [r for r in _records(out / "steering" / "alpha_0") if r["type"] == "sample"]
    assert {r["sample_index"] for r in steered} == {0} and {k for _, k in base} == {0, 1}
    assert len(steered) == len(base) // 2
    assert all(r["answer"] == base[r["item_id"], 0] for r in steered)


def test_the_key_is_sent_but_never_written(judged_run):
    _, out, server = judged_run
    assert all(h.get("Authorization") == f"Bearer {KEY}" for h in server.headers)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".md", ".html", ".yaml", ".csv", ".txt"}:
            assert KEY not in path.read_text(), path


def test_rerun_asks_the_judge_nothing(judged_run, capsys):
    path, out, server = judged_run
    before = len(server.requests)
    patch = pytest.MonkeyPatch()
    patch.setenv("OPENAI_API_KEY", KEY)
    try:
        assert main(["replicate", "--preset", str(path), "--out", str(out), "--no-progress"]) == 0
    finally:
        patch.undo()
    assert capsys.readouterr().out.count("[skip]") == len(STAGES)
    assert len(server.requests) == before


# The slow tier (make test-slow, which CI runs): a second judge-mode run, its eval stage sampled through vLLM.
@pytest.mark.slow
def test_vllm_samples_the_eval_stage_and_steering_stays_local(tmp_path, judged_run):
    from tests import fake_vllm

    patch = pytest.MonkeyPatch()
    engines = fake_vllm.install(patch)
    try:
        _, out, server = _run_judged(tmp_path, patch, judged_run[1], sampler="vllm")
        server.close()
    finally:
        patch.undo()
    results = json.loads((out / "results.json").read_text())
    # the run resumed from the judged run's fine-tunes: its stage markers name that run's models
    models = judged_run[1] / "models"
    assert [e.model for e in engines.engines] == [str(models / "base")] + [
        str(models / v / "merged") for v in SMALL_ORGANISM_PRESET["finetune"]["variants"]
    ]
    assert set(results["eval"]["models"]) == {"base", *SMALL_ORGANISM_PRESET["finetune"]["variants"]}

    def answers(folder):
        return [
            json.loads(line)["answer"]
            for file in folder.rglob("samples.jsonl")
            for line in file.read_text().splitlines()
            if json.loads(line)["type"] == "sample"
        ]

    assert answers(out / "eval") and all(a.startswith("vllm says") for a in answers(out / "eval"))
    assert answers(out / "steering") and not any(a.startswith("vllm says") for a in answers(out / "steering"))
