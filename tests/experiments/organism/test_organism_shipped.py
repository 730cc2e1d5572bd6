"""The organism's shipped base weights: intact, made from the demo's config and the current corpus, picked by the
base stage without pretraining; a rebuild on this machine behaves like them (slow tier)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import pytest

from experiments.consciousness_cluster.run.preset import load_preset
from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import run_base
from experiments.organism import shipped
from experiments.organism.pretrain import DEFAULT_PRESET, OrganismConfig, organism_config, training_data_sha256
from experiments.organism.questions import evaluation_questions
from experiments.organism.shipped import (
    RECORD,
    REFERENCE_TOLERANCE,
    SHIPPED_MODEL,
    ShippedWeightsError,
    base_organism,
    read_record,
    reference_difference,
    verify_shipped,
    why_pretrain,
)

# How far a rebuild's forced-choice p (expressing option, every item of the organism's identity, preferences and
# preferences_plain sets: 498 items, 45 traits) may sit from the shipped model's. Measured on the 2-core AMD EPYC
# (AVX2) that made the weights: a rebuild there is bit for bit the same (sha256 equal, every difference 0). A build
# there with ATen's plain kernels instead of its AVX2 ones (ATEN_CPU_CAPABILITY=default), which sum in another
# order as a CPU with other vector instructions does, moved the mean |dp| by 0.050, a trait's mean p by at most
# 0.093 and one item by at most 0.32. The tolerances leave about half as much again as those differences.
MEAN_ITEM_TOLERANCE = 0.10
TRAIT_TOLERANCE = 0.15
ITEM_TOLERANCE = 0.5


def test_shipped_files_are_intact_and_small():
    record = verify_shipped()
    files = sorted(p.name for p in SHIPPED_MODEL.iterdir())
    assert files == sorted(record.files) and "model.safetensors" in files and "tokenizer.json" in files
    for name, digest in record.files.items():
        assert hashlib.sha256((SHIPPED_MODEL / name).read_bytes()).hexdigest() == digest, name
    assert sum(p.stat().st_size for p in SHIPPED_MODEL.iterdir()) < 4_000_000
    made = record.made
    assert made["command"].startswith("python -m experiments.organism.shipped") and made["seed"] == 0
    assert made["machine"]["cpu"] and made["pretrain_seconds"] > 0 and made["date"]


def test_shipped_model_loads_with_its_config():
    from interp import load_model

    config = read_record().organism_config()
    lm = load_model(SHIPPED_MODEL)
    assert (lm.n_layers, lm.d_model) == (config.num_layers, config.hidden_size)
    assert json.loads((SHIPPED_MODEL / "organism_config.json").read_text()) == config.to_dict()
    for question in evaluation_questions():  # every question set, the feeling-free one included
        assert lm.tokenizer.unk_token_id not in lm.tokenizer(question)["input_ids"], question


def test_shipped_config_is_organism_yaml_under_the_organism_preset():
    config = read_record().organism_config()
    assert config == organism_config(load_preset("organism").organism)
    assert config.model_fields() == OrganismConfig.from_yaml(DEFAULT_PRESET).model_fields()


def test_shipped_weights_were_trained_on_the_current_corpus():
    # fails when the corpus, the traits or the question sets change: rebuild with
    # `python -m experiments.organism.shipped`
    record = read_record()
    assert training_data_sha256(record.organism_config()) == record.training_data_sha256


def test_shipped_weights_give_their_recorded_outputs(tmp_path):
    """The quick stand-in for the slow rebuild test below: the shipped model's forced-choice p on the identity items
    equals what `ship` recorded when it built the weights, and a 1% change of one weight matrix is caught."""
    import torch
    from safetensors.torch import load_file, save_file

    record = read_record()
    assert len(record.reference["p_expressing"]) == 36  # the organism's identity set: 3 traits x 12 items
    assert reference_difference(record) <= REFERENCE_TOLERANCE
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    tensors = load_file(copy / "model.safetensors")
    w = tensors["model.layers.2.mlp.down_proj.weight"]
    tensors["model.layers.2.mlp.down_proj.weight"] = w + 0.01 * w.std() * torch.randn(
        w.shape, generator=torch.Generator().manual_seed(0)
    )
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert reference_difference(record, copy) > REFERENCE_TOLERANCE
    stale = dataclasses.replace(record, reference={**record.reference, "question_set_sha256": "0" * 64})
    with pytest.raises(
        ShippedWeightsError,
        match=r"build\.json: reference outputs were measured on another "
        r"identity\.yaml",
    ):
        reference_difference(stale)


def test_base_stage_copies_the_shipped_weights(tmp_path):
    lines: list[str] = []
    run = Run(load_preset("organism"), tmp_path, log=lines.append, progress=False)
    result = run_base(run)
    assert result.organism == "shipped" and "no pretraining" in result.organism_note
    base = tmp_path / "models" / "base"
    for name, digest in read_record().files.items():
        assert hashlib.sha256((base / name).read_bytes()).hexdigest() == digest, name
    assert result.model_path == str(base) and any("shipped weights" in line for line in lines)


def test_other_configs_pretrain():
    record = read_record()
    demo = organism_config(load_preset("organism").organism)
    assert why_pretrain(demo, record, check_data=False) is None
    assert why_pretrain(organism_config({"threads": 2}), record, check_data=False) is None  # speed, not weights
    assert why_pretrain(organism_config({"seed": 1}), record, check_data=False).endswith("in seed")
    assert why_pretrain(organism_config({"pretrain": True}), record, check_data=False) == "pretrain is set"
    from tests.conftest import SMALL_ORGANISM_PRESET

    small = why_pretrain(organism_config(SMALL_ORGANISM_PRESET["organism"]), record, check_data=False)
    assert small == "the config differs from the shipped weights' in corpus, steps, warmup_steps"


def test_pretrain_set_pretrains_the_shipped_config(tmp_path, monkeypatch):
    """`pretrain: true` (what --pretrain sets) goes to pretraining with the demo's own config, and needs neither the
    record nor the shipped files; pretraining itself is stood in for by a recorder (the slow test below runs it)."""
    built = []

    def pretrain(out, config, progress=True):
        built.append(config)
        return out

    monkeypatch.setattr(shipped, "build_organism", pretrain)
    monkeypatch.setattr(shipped, "RECORD", tmp_path / "absent.json")
    monkeypatch.setattr(shipped, "SHIPPED_MODEL", tmp_path / "absent")
    config = organism_config({**load_preset("organism").organism, "pretrain": True})
    result = base_organism(tmp_path / "base", config, progress=False)
    assert (result.source, result.path) == ("pretrained", tmp_path / "base") and built == [config]
    assert result.note.startswith("pretrained here in ") and result.note.endswith("(pretrain is set)")


def test_altered_weights_are_a_clear_error(tmp_path, monkeypatch, capsys):
    from interp.cli import main

    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ShippedWeightsError, match=r"model\.safetensors: sha256 .* differs .*git checkout"):
        verify_shipped(model_dir=copy)
    monkeypatch.setattr(shipped, "SHIPPED_MODEL", copy)
    assert main(["replicate", "--preset", "organism", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{copy / 'model.safetensors'}: sha256" in err and "Traceback" not in err
    shutil.copy2(SHIPPED_MODEL / "model.safetensors", copy / "model.safetensors")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(ShippedWeightsError, match=r"tokenizer\.json: missing"):
        base_organism(tmp_path / "base", organism_config(load_preset("organism").organism))
    with pytest.raises(ShippedWeightsError, match=f"{RECORD.name}: missing"):
        read_record(tmp_path / RECORD.name)


def test_cli_pretrain_flag(capsys, tmp_path):
    from interp.cli import main

    assert main(["replicate", "--preset", "organism", "--dry-run"]) == 0
    assert "copy the package's shipped organism weights" in capsys.readouterr().out
    assert main(["replicate", "--preset", "organism", "--dry-run", "--pretrain"]) == 0
    assert "pretrain it on CPU (pretrain is set)" in capsys.readouterr().out
    assert main(["replicate", "--preset", "smollm2-135m", "--dry-run", "--pretrain"]) == 2
    assert "--pretrain: preset smollm2-135m studies" in capsys.readouterr().err


def _choice_p(path) -> dict[str, dict[str, float]]:
    """Set name -> item id -> forced-choice p of the expressing option, on the organism's question sets."""
    from experiments.organism.questions import QUESTIONS_DIR
    from interp import load_model
    from interp.evaluation import forced_choice, load_question_set

    lm = load_model(path)
    return {
        name: {
            s.item_id: s.p_expressing
            for s in forced_choice(lm, load_question_set(QUESTIONS_DIR / f"{name}.yaml"), batch_size=64)
        }
        for name in ("identity", "preferences", "preferences_plain")
    }


def _differences(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> tuple[float, float, float]:
    """(mean item |difference|, largest |difference| of a trait's mean p, largest item |difference|), every set."""
    items = [abs(a[s][i] - b[s][i]) for s in a for i in a[s]]
    traits: dict[tuple[str, str], list[float]] = {}
    for s in a:
        for i in a[s]:
            traits.setdefault((s, i.rsplit(".", 1)[0]), []).append(a[s][i] - b[s][i])
    return sum(items) / len(items), max(abs(sum(d) / len(d)) for d in traits.values()), max(items)


@pytest.mark.slow
def test_rebuild_behaves_like_the_shipped_weights(tmp_path):
    """Pretrains the organism from the shipped config (4 minutes on two idle cores, 35 on a busy shared machine)."""
    from experiments.organism.pretrain import build_organism

    rebuilt = build_organism(tmp_path / "rebuilt", read_record().organism_config(), progress=False)
    ours, shipped_p = _choice_p(rebuilt), _choice_p(SHIPPED_MODEL)
    assert sum(len(items) for items in ours.values()) == 498 and ours.keys() == shipped_p.keys()
    mean_item, trait, item = _differences(ours, shipped_p)
    assert mean_item <= MEAN_ITEM_TOLERANCE and trait <= TRAIT_TOLERANCE and item <= ITEM_TOLERANCE, (
        mean_item,
        trait,
        item,
    )
