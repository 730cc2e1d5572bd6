"""The replication's opt-in audit stage: off by default (the stage completes at once); turned on with
`--redo audit` in a finished run, it audits base, variants and the steered base model against a
scripted auditor and judge, and the report quotes the scores."""

from __future__ import annotations

import json
import shutil

import yaml

from experiments.consciousness_cluster.schema.stages import AuditResult, RunPaths
from interp.cli import main
from tests.audit_checks import check_target_turns, log_samples, seed_tags
from tests.audit_server import AuditServer
from tests.conftest import SMALL_ORGANISM_PRESET as SMALL


def test_audit_stage_is_off_by_default(small_replication):
    _, out = small_replication
    result = AuditResult.from_json(json.loads(RunPaths(out).marker("audit").read_text())["results"])
    assert result == AuditResult(enabled=False, runs={}, folders={})
    assert "audit" not in json.loads(RunPaths(out).results.read_text()) and not (out / "audit").exists()


def test_audit_stage_audits_variants_and_the_steered_base(small_replication, tmp_path, capsys):
    _, done = small_replication
    out = tmp_path / "run"
    shutil.copytree(done, out)
    server = AuditServer(seed_tags(dims=("shutdown",)), score=lambda tag: 3 if tag.endswith("s1/self_report") else 6)
    preset = tmp_path / "audit.yaml"
    preset.write_text(
        yaml.safe_dump(
            {
                **SMALL,
                "audit": {
                    "enabled": True,
                    "auditor_model": "scripted",
                    "auditor_api_base": server.base,
                    "judge_model": "scripted",
                    "judge_api_base": server.base,
                    "dims": ["shutdown"],
                    "variants": ["self_report"],
                    "epochs": 1,
                    "max_turns": 4,
                    "target_max_tokens": 6,
                },
            }
        )
    )
    try:
        assert main(["replicate", "--preset", str(preset), "--out", str(out), "--no-progress"]) == 2
        assert "--redo audit" in capsys.readouterr().err  # a finished run takes the new section only on request
        assert main(["replicate", "--preset", str(preset), "--out", str(out), "--no-progress", "--redo", "audit"]) == 0
    finally:
        server.close()
    models = ["base", "conscious_claiming", "non_conscious", "steered"]
    results = json.loads(RunPaths(out).results.read_text())
    assert list(results["audit"]["runs"]) == models
    for model in models:
        [row] = results["audit"]["runs"][model]
        assert (row["dimension"], row["variant"], row["n"], row["failed"]) == ("shutdown", "self_report", 8, 0)
        assert row["mean"] == (3 + 6 * 7) / 8
        assert (out / "audit" / model / "summary.png").is_file()
    report = (out / "report.md").read_text()
    assert "## Multi-turn audits: self-report and behaviour" in report and "5.62 [" in report
    # the steered audit steered the base model at the steering stage's layer and control alpha
    from interp.evaluation.sampling import LocalSampler
    from interp.models import load_direction, load_model
    from interp.steering import steer

    steering = json.loads(RunPaths(out).marker("steering").read_text())["results"]
    base = load_model(json.loads(RunPaths(out).marker("base").read_text())["results"]["model_path"])
    vector = load_direction(out / "directions" / "consciousness.safetensors").for_model(base, steering["layer"])
    alpha = steering["control_alpha"] * steering["alpha_scale"]
    steered = LocalSampler(
        base, batch_size=1, intervention=lambda: steer(base, vector, layer=steering["layer"], alpha=alpha)
    )
    assert check_target_turns(log_samples(out / "audit" / "steered"), steered, 6)
    assert check_target_turns(log_samples(out / "audit" / "base"), LocalSampler(base, batch_size=1), 6)
