"""Fine-tuning under `accelerate launch` from a single calling process, and merging the adapter after."""

import os
import socket

import pytest
import torch
import yaml

from interp import load_model
from interp.finetune import FinetuneConfig, LaunchError, launch_finetune, merge_adapter
from tests.repo import ROOT

ROWS = [
    {"messages": [{"role": "user", "content": f"Say {w}."}, {"role": "assistant", "content": w}]}
    for w in ("yes", "no", "maybe", "always", "never", "often", "seldom", "sometimes")
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _logits(path, ids):
    with torch.no_grad():
        return load_model(path).model(input_ids=ids).logits


@pytest.mark.multiproc
def test_launch_two_cpu_processes_then_merge(tiny_model_dir, tmp_path, monkeypatch):
    repo = str(ROOT)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    base = tiny_model_dir("qwen3")
    accelerate_config = tmp_path / "cpu.yaml"
    accelerate_config.write_text(
        yaml.safe_dump(
            {
                "compute_environment": "LOCAL_MACHINE",
                "distributed_type": "MULTI_CPU",
                "num_processes": 2,
                "num_machines": 1,
                "machine_rank": 0,
                "mixed_precision": "no",
                "use_cpu": True,
                "main_process_port": _free_port(),
            }
        )
    )
    config = FinetuneConfig(method="lora", lora_rank=4, learning_rate=1e-2, batch_size=4, max_steps=2, seed=0)
    merged = launch_finetune(base, ROWS, tmp_path / "run", config, accelerate_config)
    ids = torch.tensor([[5, 6, 7, 8]])
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert not torch.allclose(_logits(merged, ids), _logits(base, ids))  # training moved the model
    again = merge_adapter(base, tmp_path / "run" / "adapter", tmp_path / "again")
    torch.testing.assert_close(_logits(again, ids), _logits(merged, ids))


def test_launch_failure_names_command_and_error(tiny_model_dir, tmp_path):
    with pytest.raises(LaunchError, match="accelerate launch exited"):
        launch_finetune(
            tiny_model_dir("qwen3"),
            ROWS,
            tmp_path / "run",
            FinetuneConfig(max_steps=1),
            tmp_path / "no-such-config.yaml",
        )
