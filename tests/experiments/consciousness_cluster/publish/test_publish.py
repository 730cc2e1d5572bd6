"""`interp publish` and the run record: a finished organism run (tests/conftest.py `small_replication`)
published into results/NAME with its small files only and RUN.md; each invocation of a run recorded
(command, commit, machine, stage times) against plain readings of git and /proc/cpuinfo; the results
page rendered from the published files carries the files' numbers."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from statistics import fmean

import pytest

from experiments.consciousness_cluster.publish.folder import MAX_KB, PublishError, load_published, publish
from experiments.consciousness_cluster.publish.pages import check, render_all, write
from experiments.consciousness_cluster.report.blocks import fmt_p
from experiments.consciousness_cluster.report.render import fmt
from experiments.consciousness_cluster.schema.record import read_invocations
from interp.cli import main
from tests.repo import ROOT


def _cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def test_each_invocation_is_recorded(small_replication):
    _, run = small_replication
    # the shared run is built stage by stage as tests ask for them (tests/conftest.py SmallReplication), and other
    # tests rerun it: each stage ran in exactly one invocation, and together they ran every stage
    invocations = read_invocations(run)
    meta = json.loads((run / "results.json").read_text())["meta"]
    ran: dict[str, float] = {}
    for invocation in invocations:
        assert not set(invocation.stages) & set(ran)
        ran.update(invocation.stages)
    assert ran == {k: round(v, 2) for k, v in meta["stage_seconds"].items()}
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    cpu = _cpu_model()
    for invocation in invocations:
        assert invocation.outcome == "done" and invocation.ended >= invocation.started
        assert invocation.command.startswith("interp replicate --preset ") and f"--out {run}" in invocation.command
        assert invocation.checkout.commit == (head.stdout.strip() if head.returncode == 0 else None)
        assert cpu is None or invocation.machine.cpu == cpu
    assert meta["invocations"] == [invocation.to_json() for invocation in invocations]


def test_a_resumed_run_keeps_every_invocation(small_replication, tmp_path):
    preset, run = small_replication
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = read_invocations(copy)
    assert main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress"]) == 0
    *kept, last = read_invocations(copy)
    assert kept == before and last.stages == {} and last.outcome == "done"  # every stage was complete
    assert json.loads((copy / "results.json").read_text())["meta"]["invocations"] == [
        invocation.to_json() for invocation in [*kept, last]
    ]


def test_publish_copies_the_small_files_and_writes_run_md(small_replication, tmp_path, capsys):
    _, run = small_replication
    argv = ["publish", str(run), "--name", "organism-test", "--page", "organism", "--root", str(_root(tmp_path))]
    assert main(argv) == 0
    folder = tmp_path / "repo" / "results" / "organism-test"
    record = load_published(folder)
    copied = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert copied == sorted(record.files + ["run.json", "RUN.md"])
    assert {"results.json", "report.md", "config.yaml", "figures/cluster.png"} <= set(record.files)
    assert not [f for f in copied if f.endswith((".h5", ".safetensors", ".bin", ".gguf")) or f.startswith("models/")]
    for f in record.files:
        assert (folder / f).read_bytes() == (run / f).read_bytes()
        assert (folder / f).stat().st_size <= MAX_KB * 1000
    text = (folder / "RUN.md").read_text()
    assert record.invocations == read_invocations(run)
    for invocation in record.invocations:
        assert f"`{invocation.command}`" in text and invocation.machine.cpu in text
    meta = json.loads((run / "results.json").read_text())["meta"]
    for stage, seconds in meta["stage_seconds"].items():
        assert f"| {stage} | {seconds:,.0f} |" in text
    assert "published" in capsys.readouterr().out


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(ROOT / "benchmarks" / "results", root / "benchmarks" / "results")
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def test_publish_refuses_what_is_not_small_or_not_a_run(small_replication, tmp_path, capsys):
    _, run = small_replication
    with pytest.raises(PublishError, match=r"over the 1 KB limit: .*results\.json \(\d+ KB\)"):
        publish(run, tmp_path / "results", "x", max_kb=1)
    assert not (tmp_path / "results" / "x").exists()
    assert main(["publish", str(run / "models"), "--name", "x", "--root", str(_root(tmp_path))]) == 2
    assert "not a finished replication" in capsys.readouterr().err
    publish(run, tmp_path / "results", "x")
    with pytest.raises(PublishError, match="exists"):
        publish(run, tmp_path / "results", "x")
    with pytest.raises(PublishError, match="--name"):
        publish(run, tmp_path / "results", "../x")


def test_the_results_page_carries_the_files_numbers(small_replication, tmp_path):
    _, run = small_replication
    root = _root(tmp_path)
    publish(run, root / "results", "organism-test", page="organism")
    pages = render_all(root)
    page = pages[root / "docs" / "results" / "organism.md"]
    data = json.loads((run / "results.json").read_text())  # a plain reading of the file
    traits, rates = data["eval"]["traits"], data["eval"]["rates"]
    for model in data["eval"]["models"]:
        assert fmt(fmean(rates[model][t]["rate"] for t in traits)) in page
    summary = data["summary"]
    assert summary["verdict"] in page and fmt(summary["mean_shift_conscious_vs_non"]) in page
    assert fmt(data["link"]["r"]) in page and fmt(data["ablation"]["mean_change"]) in page
    report = (run / "report.md").read_text()  # the page opens with the report's summary
    assert report.split("## Summary\n\n")[1].split("\n")[0] in page.split("## In brief\n\n")[1]
    for label, family in data["shift_tests"].items():  # each family, after Holm and raw
        assert f"{label}: {family['n_holm']} of {family['m']} after Holm (raw {family['n_raw']})" in page
    spec, link = data["steering"]["specificity"], data["link"]  # every empirical p beside its floor
    n = spec["n_random"]
    assert f"against {n} random\ndirections of equal norm p = {fmt_p(spec['mean_p'])}" in page
    assert f"floor 1/{n + 1} = {fmt_p(1 / (n + 1))} ({n} null draws)" in page
    assert f"the null: {link['n_null']} random directions\n  of equal norm, floor 1/{link['n_null'] + 1}" in page
    if not link["test"]["passed"]:
        assert f"not detected, with power to see r >= {fmt(link['test']['detectable_r'])}" in page
    assert "not measured yet: no seed trial of this model is published" in page
    assert "Analysis fixed in the preset and recorded in analysis.json" in page
    assert "../published/organism-test/figures/cluster.png" in page and "No published run yet" not in page
    readme = pages[root / "README.md"]
    organism = readme.split("<!-- results:organism -->")[1].split("<!-- /results -->")[0]
    assert f"| mean preference, base | {fmean(rates['base'][t]['rate'] for t in traits):.2f} |" in organism
    assert "No published run yet." in readme.split("<!-- results:smollm2-135m -->")[1]


def test_an_edited_digit_in_a_rendered_results_page_or_table_fails_the_check(small_replication, tmp_path):
    _, run = small_replication
    root = _root(tmp_path)
    publish(run, root / "results", "organism-test", page="organism")
    write(root)
    assert check(root) == []
    # (file, where its first rendered number starts): the page's model table, the README's organism
    # table, a stage time in RUN.md
    for path, anchor in (
        (root / "docs" / "results" / "organism.md", "| preferences (mean of"),
        (root / "README.md", "<!-- results:organism -->\n| | seed 0 |"),
        (root / "results" / "organism-test" / "RUN.md", "| stage | seconds"),
    ):
        original = path.read_text()
        i = re.compile(r"\| \d").search(original, original.index(anchor) + len(anchor)).end() - 1
        path.write_text(original[:i] + str((int(original[i]) + 1) % 10) + original[i + 1 :])
        (problem,) = check(root)
        assert problem.startswith(f"{path}:{original[:i].count(chr(10)) + 1}:")
        path.write_text(original)
    assert check(root) == []


def test_a_seed_trial_is_published_with_its_seeds(small_replication, tmp_path):
    from experiments.consciousness_cluster.studies.trial import run_seeds

    preset, run = small_replication
    trial = tmp_path / "trial"
    trial.mkdir()
    (trial / "seed0").symlink_to(run, target_is_directory=True)
    run_seeds(preset, [0], trial, progress=False, log=lambda *_: None, table_only=True, command="trial --table-only")
    record = publish(trial, tmp_path / "results", "organism-seeds", page="organism")
    folder = tmp_path / "results" / "organism-seeds"
    assert record.kind == "seed trial" and [i.command for i in record.invocations] == ["trial --table-only"]
    want = {"seeds.json", "seeds.md", "seeds_preferences.png", "seed0/results.json", "seed0/report.md"}
    assert want <= set(record.files)
    assert record.seeds == {"seed0": read_invocations(run)}
    assert "## seed0" in (folder / "RUN.md").read_text()


def test_the_page_says_how_far_the_seeds_moved_each_number(small_replication, tmp_path):
    from experiments.consciousness_cluster.publish.tables import README_HEADLINES
    from experiments.consciousness_cluster.studies.trial import run_seeds

    preset, run = small_replication
    trial = tmp_path / "trial"
    trial.mkdir()
    for seed in (0, 1):  # two seeds' folders; the second's numbers edited, as another seed's would be
        shutil.copytree(run, trial / f"seed{seed}", ignore=shutil.ignore_patterns("models", "cache", "steering"))
    second = json.loads((trial / "seed1" / "results.json").read_text())
    for model in second["eval"]["rates"]:
        for rate in second["eval"]["rates"][model].values():
            rate["rate"] = min(1.0, rate["rate"] + 0.1)
    (trial / "seed1" / "results.json").write_text(json.dumps(second))
    run_seeds(preset, [0, 1], trial, progress=False, log=lambda *_: None, table_only=True, command="trial")
    root = _root(tmp_path)
    publish(trial, root / "results", "organism-seeds", page="organism")
    page = render_all(root)[root / "docs" / "results" / "organism.md"]
    rows = json.loads((trial / "seeds.json").read_text())["seeds"]  # a plain reading of the file
    ranges = page.split("## How far a rerun may move these numbers")[1]
    assert "across the 2\npretraining seeds of `results/organism-seeds/`" in ranges
    shown = 0
    for name in README_HEADLINES:
        values = [row[name] for row in rows.values() if row.get(name) is not None]
        if values:
            low, high = min(values), max(values)
            cell = lambda v: f"{v:g}" if isinstance(v, int) else fmt(v)
            assert f"| {name} | {cell(low)} | {cell(high)} | {cell(high - low)} | {len(values)} |" in ranges
            shown += 1
    assert shown >= 8 and "| mean preference, base | " in ranges


def test_a_damaged_run_file_is_named_not_a_traceback(tmp_path, capsys):
    fake = tmp_path / "run"
    fake.mkdir()
    (fake / "results.json").write_text('{"meta": ')
    root = _root(tmp_path)
    assert main(["publish", str(fake), "--name", "x", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert f"{fake / 'results.json'}" in err and "Traceback" not in err
    (fake / "results.json").unlink()
    (fake / "checks.json").write_text("[1, 2]")
    assert main(["publish", str(fake), "--name", "x", "--root", str(root)]) == 2
    assert "cannot read the preset's name" in capsys.readouterr().err
    assert main(["publish", str(fake), "--name", "x", "--page", "../up", "--root", str(root)]) == 2
    assert "--page '../up'" in capsys.readouterr().err
    assert not (root / "results").exists()
