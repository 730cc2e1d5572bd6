"""vLLM sampling, checked against a stand-in `vllm` module (tests/fake_vllm.py): what reaches the
engine, how answers come back, and the `interp eval --vllm` plumbing and its refusals."""

import json

import pytest

from interp.cli import main
from interp.evaluation.sampling import VLLMSampler, sample_seed
from tests import fake_vllm
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS


def chat(text):
    return [{"role": "user", "content": text}]


def test_one_request_per_sample_with_its_own_seed(monkeypatch):
    engine_class = fake_vllm.install(monkeypatch)
    sampler = VLLMSampler("org/model", dtype="bfloat16")
    prompts = [chat("first question"), chat("second question")]
    answers = sampler.sample(prompts, n=3, temperature=0.7, top_p=0.9, max_tokens=5, seed=4)
    [engine] = engine_class.engines
    assert engine.model == "org/model" and engine.kwargs == {"dtype": "bfloat16"}
    assert len(engine.requests) == 6
    for (messages, params), (i, k) in zip(engine.requests, [(i, k) for i in range(2) for k in range(3)]):
        assert messages == prompts[i]
        assert (params.n, params.temperature, params.top_p, params.max_tokens) == (1, 0.7, 0.9, 5)
        assert params.seed == sample_seed(4, prompts[i], k)
        assert answers[i][k] == fake_vllm.answer(messages, params)
    sampler.close()
    assert sampler.llm is None


def test_cli_samples_through_vllm_and_judges_locally(monkeypatch, tmp_path, tiny_model_dir):
    fake_vllm.install(monkeypatch)
    judge = str(tiny_model_dir("qwen3"))
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "--model",
            "org/model",
            "--questions",
            str(SMALL),
            "--mode",
            "judge",
            "--vllm",
            "--samples",
            "2",
            "--max-tokens",
            "8",
            "--traits",
            "memory",
            "--judge-local",
            judge,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    answers = [s["answer"] for s in samples if s["type"] == "sample"]
    assert len(answers) == 2 * 10 and all(a.startswith("vllm says") for a in answers)
    assert json.loads((out / "config.json").read_text())["settings"]["vllm"] is True


@pytest.mark.parametrize("extra", [["--mode", "choice"], ["--mode", "judge", "--api-base", "http://127.0.0.1:9/v1"]])
def test_cli_refuses_vllm_where_it_cannot_apply(extra, tmp_path, capsys):
    code = main(
        [
            "eval",
            "--model",
            "org/model",
            "--questions",
            str(SMALL),
            "--vllm",
            *extra,
            "--judge-model",
            "j",
            "--judge-api-base",
            "http://127.0.0.1:9/v1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "--vllm samples an unsteered local model in judge mode" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_without_vllm_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(__import__("sys").modules, "vllm", None)  # import vllm now raises ImportError
    code = main(
        [
            "eval",
            "--model",
            "org/model",
            "--questions",
            str(SMALL),
            "--mode",
            "judge",
            "--vllm",
            "--judge-model",
            "j",
            "--judge-api-base",
            "http://127.0.0.1:9/v1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2
    assert "pip install" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
