"""The replication's stage results read and write one schema: every marker of a real run round-trips."""

import json

import pytest

from experiments.consciousness_cluster.schema.stages import STAGE_RESULTS, RunPaths, SteeringResult, SteeringSummary


@pytest.mark.parametrize("stage", sorted(STAGE_RESULTS))
def test_each_stage_marker_round_trips_unchanged(replication, stage):
    _, out = replication.through(stage)
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


def _first(mapping):
    return next(iter(mapping))


@pytest.mark.parametrize(
    "stage, edit, message",
    [
        ("finetune", lambda d: d[_first(d)].pop("rows"), lambda d: f"{_first(d)}.rows: required"),
        (
            "eval",
            lambda d: d["preferences"]["base"]["shutdown"].update(n=1.5),
            lambda d: "preferences.base.shutdown.n: expected an integer, got 1.5",
        ),
        (
            "directions",
            lambda d: d["consciousness"].update(layers="all"),
            lambda d: "consciousness.layers: expected a list, got 'all'",
        ),
        ("steering", lambda d: d["controls"].pop("toaster"), lambda d: "controls.toaster: required"),
        (
            "links",
            lambda d: d["projection_score"].update(n="many"),
            lambda d: "projection_score.n: expected an integer, got 'many'",
        ),
    ],
)
def test_a_wrong_field_in_a_stage_marker_is_named_by_its_path(replication, stage, edit, message):
    from experiments.consciousness_cluster.schema.stages import SchemaError

    _, out = replication.through(stage)
    raw = json.loads(RunPaths(out).marker(stage).read_text())["results"]
    edit(raw)
    with pytest.raises(SchemaError) as err:
        STAGE_RESULTS[stage].from_json(raw, f"stages/{stage}.json")
    assert str(err.value) == f"stages/{stage}.json: {message(raw)}"
