"""The replication's stage results read and write one schema: every marker of a real run round-trips."""

import json

import pytest

from experiments.consciousness_cluster.schema import STAGE_RESULTS, RunPaths, SteeringResult, SteeringSummary


@pytest.mark.parametrize("stage", sorted(STAGE_RESULTS))
def test_each_stage_marker_round_trips_unchanged(small_replication, stage):
    _, out = small_replication
    raw = json.loads(RunPaths(out).marker(stage).read_text())["results"]
    typed = STAGE_RESULTS[stage].from_json(raw)
    assert json.loads(json.dumps(typed.to_json())) == raw  # the layout run folders hold stays as it was
    assert STAGE_RESULTS[stage].from_json(typed.to_json()) == typed


def test_alphas_are_floats_in_memory_and_strings_on_disk(small_replication):
    _, out = small_replication
    steering = SteeringResult.from_json(json.loads(RunPaths(out).marker("steering").read_text())["results"])
    assert list(steering.rates) == steering.alphas and all(isinstance(a, float) for a in steering.rates)
    results = json.loads(RunPaths(out).results.read_text())
    assert SteeringSummary.from_json(results["steering"]) == steering.summary()
    assert sorted(results["steering"]["rates"]) == sorted(str(a) for a in steering.alphas)
