"""docs/quickstart.md runs as written with `import interp` alone (on a tiny random model instead of the organism)."""

import ast
import re

from tests.repo import ROOT

QUICKSTART = ROOT / "docs" / "quickstart.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", QUICKSTART.read_text(), flags=re.S)


def test_three_jobs_from_one_import():
    code = blocks()
    assert len(code) == 3
    roots = set()
    for node in ast.walk(ast.parse("\n".join(code))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add(node.module.split(".")[0])
    assert roots == {"interp"}
    steer_job = code[1].strip().splitlines()
    assert len(steer_job) <= 12  # string pairs (block 1) -> direction in memory -> steered text


def test_quickstart_runs(tiny_model_dir, tmp_path, monkeypatch, capsys):
    code = "\n".join(blocks())
    code = code.replace('MODEL = "runs/organism/models/base"', f'MODEL = r"{tiny_model_dir("qwen3")}"')
    code = code.replace('"experiments/organism/', f'r"{ROOT}/experiments/organism/')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(QUICKSTART), "exec"), namespace)
    out = capsys.readouterr().out
    assert re.search(r"^\[0, 1, 2\] 4 \(4, 32\)$", out, flags=re.M)
    assert re.search(r"^True$", out, flags=re.M)  # in-memory rows equal the file's
    assert re.search(r"^0\.0 ", out, flags=re.M) and re.search(r"^8\.0 ", out, flags=re.M)
    assert re.search(r"pearson -?\d\.\d\d \[", out)
    assert (tmp_path / "quickstart.h5").is_file() and (tmp_path / "quickstart.safetensors").is_file()
    # the direction made in memory is the one the file gives, row for row
    import numpy as np

    interp = namespace["interp"]
    from_file = interp.direction_from_store(tmp_path / "quickstart.h5")
    direction = namespace["direction"]
    assert from_file.layers == direction.layers == (0, 1, 2)
    np.testing.assert_array_equal(from_file.vectors.numpy(), direction.vectors.numpy())
    assert direction.weights_id == namespace["lm"].weights_id and direction.dataset == ""
