"""The README's quickstart blocks run as written (on a tiny random model instead of the organism)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_quickstart_has_three_jobs():
    assert len(quickstart_blocks()) == 3


def test_quickstart_runs(tiny_model_dir, tmp_path, monkeypatch, capsys):
    root = README.parent
    code = "\n".join(quickstart_blocks())
    code = code.replace('MODEL = "runs/organism/models/base"', f'MODEL = r"{tiny_model_dir("qwen3")}"')
    code = code.replace('"experiments/organism/', f'r"{root}/experiments/organism/')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"\[0, 1, 2\] 4 \(4, 32\)", out)
    assert re.search(r"^0\.0 ", out, flags=re.M) and re.search(r"^8\.0 ", out, flags=re.M)
    assert re.search(r"pearson -?\d\.\d\d \[", out)
    assert (tmp_path / "quickstart.h5").is_file() and (tmp_path / "quickstart.safetensors").is_file()
