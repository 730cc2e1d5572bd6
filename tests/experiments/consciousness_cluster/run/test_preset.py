"""Preset validation: every field checked for type, range and allowed values on load, each mistake
an exit 2 from `interp replicate --dry-run` naming the file and the field path, and layer fields
checked against the model's depth once its config is known (no weights loaded)."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

from experiments.consciousness_cluster.run.preset import (
    PRESET_DIR,
    PresetError,
    ReplicationConfig,
    load_preset,
    preset_names,
)
from experiments.organism.pretrain import DEFAULT_PRESET, OrganismConfig
from interp.cli import main
from interp.models.fields import literal_values


def dry_run(tmp_path, capsys, preset: dict | str) -> tuple[int, str, str]:
    path = tmp_path / "p.yaml"
    path.write_text(preset if isinstance(preset, str) else yaml.safe_dump(preset))
    code = main(["replicate", "--preset", str(path), "--dry-run"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _literal_fields(cls=ReplicationConfig, prefix=""):
    """(path, allowed values) of every Literal-typed field in the config tree."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _literal_fields(hints[f.name], f"{prefix}{f.name}.")
        elif literal_values(hints[f.name]) is not None:
            yield f"{prefix}{f.name}", [v for v in literal_values(hints[f.name]) if v is not None]


def _nested(path: str, value) -> dict:
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


LITERALS = list(_literal_fields())


def test_the_enumerated_fields_are_found():
    assert {path for path, _ in LITERALS} >= {
        "model.dtype",
        "finetune.method",
        "eval.mode",
        "eval.sampler",
        "direction.cache.positions",
        "direction.cache.dtype",
    }


@pytest.mark.parametrize("path, allowed", LITERALS, ids=[p for p, _ in LITERALS])
def test_every_enumerated_field_is_checked(tmp_path, capsys, path, allowed):
    code, out, err = dry_run(tmp_path, capsys, _nested(path, "bogus"))
    assert code == 2 and "preset valid" not in out
    assert f"p.yaml: {path}: 'bogus' is not one of {', '.join(allowed)}" in err


@pytest.mark.parametrize(
    "preset, message",
    [
        ({"eval": {"mode": "jduge"}}, "eval.mode: 'jduge' is not one of choice, judge (did you mean 'judge'?)"),
        (
            {"direction": {"method": "meandiff"}},
            "direction.method: 'meandiff' is not one of mean-diff, pca, logistic, mass-mean "
            "(did you mean 'mean-diff'?)",
        ),
        (
            {"direction": {"cache": {"dtype": "bf16"}}},
            "direction.cache.dtype: 'bf16' is not one of float16, bfloat16, float32",
        ),
        ({"direction": {"cache": {"positions": "all"}}}, "direction.cache.positions: 'all' keeps the prompt's tokens"),
        ({"finetune": {"learning_rate": "fast"}}, "finetune.learning_rate: expected a number, got 'fast'"),
        ({"finetune": {"learning_rate": 0}}, "finetune.learning_rate: 0.0 is too small; use a value above 0"),
        ({"finetune": {"batch_size": -8}}, "finetune.batch_size: -8 is too small; use at least 1"),
        ({"finetune": {"epochs": 1.5}}, "finetune.epochs: expected an integer, got 1.5"),
        ({"finetune": {"max_length": 0}}, "finetune.max_length: 0 is too small; use at least 1"),
        ({"finetune": {"mix_instructions": -1}}, "finetune.mix_instructions: -1 is too small; use at least 0"),
        ({"eval": {"sampling": {"samples": 0}}}, "eval.sampling.samples: 0 is too small; use at least 1"),
        ({"eval": {"samples": 2}}, "eval.samples: unknown field"),
        ({"eval": {"traits": ["shutdown"]}}, "eval.traits: the replication evaluates every trait of its question sets"),
        ({"eval": {"batch_size": "8"}}, "eval.batch_size: expected an integer, got '8'"),
        ({"eval": {"sampling": {"temperature": -1}}}, "eval.sampling.temperature: -1.0 is too small; use at least 0.0"),
        ({"steering": {"n_random": 0}}, "steering.n_random: 0 is too small; use at least 1"),
        ({"steering": {"n_covariance": -1}}, "steering.n_covariance: -1 is too small; use at least 0"),
        (
            {"steering": {"layer_curve_alphas": [0.1, -0.2]}},
            "steering.layer_curve_alphas: [0.1, -0.2] must be positive alphas (each is steered with both signs)",
        ),
        (
            {"analysis": {"alpha_rule": "largest_coherent"}, "steering": {"coherence_prompts": 0}},
            "analysis.alpha_rule: largest_coherent reads the coherence of each alpha; "
            "set steering.coherence_prompts above 0",
        ),
        ({"steering": {"alpha_rel": "yes please"}}, "steering.alpha_rel: expected true or false, got 'yes please'"),
        ({"steering": {"layer": "first"}}, "steering.layer: expected an integer, got 'first'"),
        ({"steering": {"alphas": [0, float("nan")]}}, "steering.alphas[1]: nan is not a finite number"),
        ({"steering": {"alphas": [0, "inf"]}}, "steering.alphas[1]: 'inf' is not a finite number"),
        ({"steering": {"alphas": 1}}, "steering.alphas: expected a list, got 1"),
        ({"steering": {"link_alpha": float("-inf")}}, "steering.link_alpha: -inf is not a finite number"),
        ({"steering": {"alphass": [0.0]}}, "steering.alphass: unknown field (did you mean 'alphas'?); steering has"),
        ({"stering": {}}, "stering: unknown field (did you mean 'steering'?)"),
        ({"eval": "judge"}, "eval: expected a mapping, got 'judge'"),
        (
            {"audit": {"variants": ["selfreport"]}},
            "audit: variants: unknown ['selfreport']; choose from self_report, behaviour",
        ),
        ({"audit": {"max_tokens": 6}}, "audit.max_tokens: unknown field (did you mean 'target_max_tokens'?)"),
        (
            {"direction": {"cache": {"layers": "0..3"}}},
            "direction.cache.layers: layers '0..3': '0..3' is not a layer spec; use 'all'",
        ),
        ({"organism": {"threads": 0}}, "organism.threads: 0 is too small; use at least 1"),
        ({"organism": {"hiden_size": 8}}, "organism.hiden_size: unknown field (did you mean 'hidden_size'?)"),
        ({"organism": {"corpus": {"n_documents": "many"}}}, "organism.corpus.n_documents: expected an integer"),
        ({"organism": {"corpus": {"p_conscious": 2}}}, "organism.corpus: CorpusConfig.p_conscious must be in [0, 1]"),
        (
            {"model": {"source": "Qwen/Qwen3-8B"}, "organism": {"threads": 1}},
            "organism: overrides apply to the built-in organism only, and model.source is 'Qwen/Qwen3-8B'",
        ),
        ({"steering": {"layer": 99}}, "steering.layer: layer 99 is out of range for a model with 4 layers"),
        ({"steering": {"layer": -5}}, "steering.layer: layer -5 is out of range for a model with 4 layers"),
        (
            {"organism": {"num_layers": 2}, "steering": {"layer": 2}},
            "steering.layer: layer 2 is out of range for a model with 2 layers",
        ),
        (
            {"direction": {"cache": {"layers": "2-7"}}},
            "direction.cache.layers: layers [4, 5, 6, 7] are out of range for a model with 4",
        ),
        (
            {"direction": {"cache": {"layers": "0,2"}}, "steering": {"layer": 1}},
            "steering.layer: layer 1 is not among direction.cache.layers [0, 2], "
            "the only layers the direction is found at",
        ),
    ],
)
def test_each_mistake_exits_2_naming_the_field(tmp_path, capsys, preset, message):
    code, out, err = dry_run(tmp_path, capsys, preset)
    assert code == 2 and "preset valid" not in out
    assert message in err
    assert "p.yaml" in err.splitlines()[0]


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    code, _, err = dry_run(
        tmp_path,
        capsys,
        {"eval": {"mode": "jduge", "sampling": {"samples": -1}}, "finetune": {"learning_rate": "fast"}},
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3 and all("p.yaml: " in line for line in lines)
    assert [line.split("p.yaml: ")[1].split(":")[0] for line in lines] == [
        "finetune.learning_rate",
        "eval.mode",
        "eval.sampling.samples",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("- a\n- b\n", "expected a mapping of sections"),
        ("eval: {mode: [\n", "not valid YAML"),
        (b"eval:\n  mode: \xff\n", "p.yaml:2: not valid UTF-8 (byte 0xff at column 9)"),
    ],
)
def test_unreadable_preset_files_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "p.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["replicate", "--preset", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_values_yaml_reads_loosely_are_still_taken(tmp_path):
    """YAML 1.1 reads 2e-4 (no dot) as a string and a leading BOM as text: both are what the user meant."""
    path = tmp_path / "p.yaml"
    path.write_text("\ufefffinetune:\n  learning_rate: 2e-4\nsteering: {alphas: [-1, 0, 1], link_alpha: 1}\n")
    config = load_preset(path)
    assert config.finetune.learning_rate == 2e-4 and config.steering.alphas == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("path", sorted(PRESET_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_preset_validates(path, capsys):
    assert main(["replicate", "--preset", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "preset valid" in out and "layer fields:" in out


def test_the_organism_preset_validates_and_its_layers_are_known(capsys):
    assert OrganismConfig.from_yaml(DEFAULT_PRESET) == OrganismConfig()
    assert main(["replicate", "--preset", "organism", "--dry-run"]) == 0
    assert "layer fields: within the model's 4 layers (from the organism's config)" in capsys.readouterr().out
    assert "organism" in preset_names()


def test_organism_yaml_mistakes_name_the_file_and_field(tmp_path):
    bad = tmp_path / "organism.yaml"
    bad.write_text("steps: many\nlr: .nan\n")
    with pytest.raises(ValueError) as err:
        OrganismConfig.from_yaml(bad)
    assert str(err.value).splitlines() == [
        f"{bad}: steps: expected an integer, got 'many'",
        f"{bad}: lr: nan is not a finite number",
    ]


def test_layers_of_a_local_model_are_read_from_its_config(tiny_model_dir, tmp_path, capsys, monkeypatch):
    import interp

    monkeypatch.setattr(interp, "load_model", lambda *a, **k: pytest.fail("dry run loaded a model"))
    source = str(tiny_model_dir("qwen3"))
    code, out, _ = dry_run(tmp_path, capsys, {"model": {"source": source}, "steering": {"layer": -1}})
    assert code == 0 and f"within the model's 3 layers (from {source}/config.json)" in out
    code, _, err = dry_run(tmp_path, capsys, {"model": {"source": source}, "steering": {"layer": 3}})
    assert code == 2 and "steering.layer: layer 3 is out of range for a model with 3 layers" in err


def test_a_model_whose_config_is_not_here_is_checked_when_it_loads(tmp_path, capsys):
    code, out, _ = dry_run(tmp_path, capsys, {"model": {"source": "nobody/not-cached"}, "steering": {"layer": 99}})
    assert code == 0 and "layer fields: checked once the base model loads" in out


def test_a_preset_error_is_a_value_error_with_one_line_per_problem():
    with pytest.raises(PresetError) as err:
        from experiments.consciousness_cluster.run.preset import config_from_dict

        config_from_dict({"name": "x", "eval": {"mode": 1, "batch_size": "2"}}, "where.yaml")
    assert str(err.value).splitlines() == [
        "where.yaml: eval.mode: 1 is not one of choice, judge",
        "where.yaml: eval.batch_size: expected an integer, got '2'",
    ]


def test_the_config_dict_holds_lists_as_its_files_do():
    """A tuple default (eval.sampling.seeds) must compare equal to the list a run's config file reads back,
    or every rerun would see a changed config."""
    import json

    from experiments.consciousness_cluster.run.preset import config_from_dict, load_preset

    config = load_preset("organism").to_dict()
    assert config["eval"]["sampling"]["seeds"] == [0]
    assert config_from_dict(json.loads(json.dumps(config))).to_dict() == config


def test_a_preset_loads_without_the_audit_extra():
    """The audit section is interp.audit's own AuditConfig; loading a preset must not need inspect-ai (an extra)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['inspect_ai'] = None\n"  # any import of inspect_ai now fails
        "from experiments.consciousness_cluster.run.preset import load_preset\n"
        "c = load_preset('organism'); print(c.audit.max_turns, c.audit.protocol().epochs)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["20", "2"]
