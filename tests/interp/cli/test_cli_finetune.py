"""`interp finetune` and `interp finetune-mix` end to end on a tiny model."""

from __future__ import annotations

import json

import pytest

from interp.cli import main
from interp.finetune import load_jsonl, load_rows

pytestmark = pytest.mark.usefixtures("one_thread")


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_finetune_cli_writes_a_run(tiny_model_dir, tmp_path, capsys):
    data = _write(tmp_path / "rows.jsonl", load_rows("toaster")[:8])
    args = [
        "finetune",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--max-steps",
        "2",
        "--lora-rank",
        "2",
        "--target-modules",
        "q_proj,v_proj",
        "--merge",
        "--no-progress",
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["merged_dir"].endswith("merged")
    saved = json.loads((tmp_path / "run" / "finetune_config.json").read_text())
    assert saved["config"]["target_modules"] == ["q_proj", "v_proj"] and saved["config"]["lora_rank"] == 2
    assert saved["rows"] == 8


def test_finetune_cli_user_errors(tiny_model_dir, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(load_rows("toaster")[0]) + "\n{oops\n")
    model = str(tiny_model_dir("qwen3"))
    assert main(["finetune", "--model", model, "--data", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert main(["finetune", "--model", model, "--data", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "known: " in capsys.readouterr().err
    assert (
        main(["finetune", "--model", model, "--data", "toaster", "--out", str(tmp_path / "x"), "--grad-accum", "3"])
        == 2
    )
    assert "not a multiple of grad_accum" in capsys.readouterr().err


def test_finetune_mix_cli(tiny_model_dir, tmp_path, capsys):
    data = _write(tmp_path / "rows.jsonl", load_rows("conscious_claiming")[:6])
    out = tmp_path / "mixed.jsonl"
    args = [
        "finetune-mix",
        "--model",
        str(tiny_model_dir("llama")),
        "--data",
        str(data),
        "--out",
        str(out),
        "--n",
        "6",
        "--max-new-tokens",
        "4",
        "--batch-size",
        "3",
    ]
    assert main(args) == 0
    rows = load_jsonl(out)
    assert len(rows) == 12
    prompts = {row["messages"][0]["content"] for row in load_jsonl(data)}
    distilled = [row for row in rows if row["messages"][0]["content"] not in prompts]
    instructions = {row["messages"][0]["content"] for row in load_rows_prompts()}
    assert len(distilled) == 6 and all(row["messages"][0]["content"] in instructions for row in distilled)
    assert rows[:6] != load_jsonl(data)  # shuffled together, not appended
    assert main(args[:-4] + ["--n", "601"]) == 2


def load_rows_prompts():
    from interp.finetune import resolve_data

    return load_jsonl(resolve_data("instructions"), need_assistant=False)


def test_finetune_mix_is_listed_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "finetune-mix" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["finetune-mix", "--help"])
    assert "example:" in capsys.readouterr().out


def test_config_file_then_flags(tmp_path):
    from interp.cli import build_parser
    from interp.cli.finetune import build_config
    from interp.finetune import FinetuneConfig

    (tmp_path / "c.yaml").write_text("method: full\nlearning_rate: 0.001\nepochs: 3\n")
    args = build_parser().parse_args(
        [
            "finetune",
            "--model",
            "m",
            "--data",
            "d",
            "--out",
            "o",
            "--config",
            str(tmp_path / "c.yaml"),
            "--lr",
            "0.01",
            "--adapt-experts",
        ]
    )
    assert build_config(args) == FinetuneConfig(method="full", learning_rate=0.01, epochs=3, adapt_experts=True)
    args = build_parser().parse_args(["finetune", "--model", "m", "--data", "d", "--out", "o"])
    assert build_config(args) == FinetuneConfig()


def test_rerun_into_a_folder_of_another_run_refuses(tiny_model_dir, tmp_path, capsys):
    """Another model, data or config: exit 2 naming what differs, and the folder's run untouched."""
    data = _write(tmp_path / "rows.jsonl", load_rows("toaster")[:4])
    run = tmp_path / "run"
    base = [
        "finetune",
        "--data",
        str(data),
        "--out",
        str(run),
        "--max-steps",
        "2",
        "--checkpoint-every",
        "1",
        "--lora-rank",
        "2",
        "--no-progress",
    ]
    assert main(base + ["--model", str(tiny_model_dir("qwen3"))]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    other_data = _write(tmp_path / "other.jsonl", load_rows("toaster")[4:8])
    for argv, differs in [
        (base + ["--model", str(tiny_model_dir("qwen3", 1))], "a different model: model ("),
        ([*base[:2], str(other_data), *base[3:], "--model", str(tiny_model_dir("qwen3"))], "a different data: data ("),
        (
            base + ["--model", str(tiny_model_dir("qwen3")), "--lr", "0.01"],
            "a different config: config (learning_rate: 0.0002 there, 0.01 now)",
        ),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"interp finetune: error: {run} holds a fine-tune of {differs}"), last
        assert last.endswith(f"use a new --out folder, or delete {run} to start over") and "Traceback" not in err
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    moved = _write(tmp_path / "same-rows-elsewhere.jsonl", load_rows("toaster")[:4])
    assert main([*base[:2], str(moved), *base[3:], "--model", str(tiny_model_dir("qwen3")), "--json"]) == 0  # same rows
    assert json.loads(capsys.readouterr().out)["resumed_from"] == 1
