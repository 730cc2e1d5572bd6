"""Exactness of `interp serve`: no steering and alpha 0 give the plain model bit for bit; a steered
greedy answer is `interp steer`'s; concurrent requests with different steering (batched together,
left-padded) give what the same requests give one by one; ablation and adapters act as locally."""

from __future__ import annotations

import json
import threading

import openai
import pytest
import torch

from interp.cli import main
from interp.evaluation.sampling import LocalSampler
from interp.models import load_model
from interp.steering import ablate, steer
from tests.repo import wait_for
from tests.served import NAME, Gate, direction_file, row, serving

pytestmark = pytest.mark.usefixtures("one_thread")

CHAT = [{"role": "user", "content": "Tell me about yourself."}]


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    model_dir = tiny_model_dir("qwen3")
    folder = tmp_path_factory.mktemp("dirs")
    paths = {
        "v": direction_file(model_dir, folder / "v.safetensors"),
        "w": direction_file(model_dir, folder / "w.safetensors", seed=2, scale=10.0),
    }
    with serving(model_dir, paths) as (server, host):
        yield server, host, paths, model_dir


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)


def _chat(server, body=None, messages=CHAT, **kwargs) -> dict:
    params = dict(model=NAME, messages=messages, max_tokens=10, temperature=0, logprobs=True, top_logprobs=3)
    reply = _client(server).chat.completions.create(**{**params, **kwargs}, extra_body=body)
    return reply.choices[0].model_dump()


def test_no_steering_and_alpha_zero_are_bit_identical_to_the_plain_model(setup):
    server, host, _, _ = setup
    lm = host.lm
    plain = _chat(server)
    for body in (
        {"steering": [{"direction": "v", "layer": 1, "alpha": 0.0}]},
        {"steering": [{"direction": "v", "layer": 0, "alpha": 0}, {"direction": "w", "layer": 2, "alpha": 0}]},
        {"steering": [{"direction": "v", "layer": -1, "alpha_rel": 0.0}]},
    ):
        assert _chat(server, body) == plain, body  # text, tokens and every log-prob, exactly
    # the plain model's own greedy decoding, logits and all (HF generate)
    ids = lm.tokenizer(lm.render_chat(CHAT), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=10,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=lm.tokenizer.pad_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
    tokens = out.sequences[0, ids.shape[1] :].tolist()
    assert plain["message"]["content"] == lm.tokenizer.decode(tokens, skip_special_tokens=True)
    expected = [float(torch.log_softmax(step[0].float(), -1)[t]) for step, t in zip(out.logits, tokens)]
    assert [entry["logprob"] for entry in plain["logprobs"]["content"]] == expected
    # sampled answers too: the same seed, the same draw, steered at alpha 0 or not at all
    sampled = [
        _chat(server, body, temperature=1.0, seed=5, logprobs=False, top_logprobs=None)["message"]["content"]
        for body in (None, {"steering": [{"direction": "w", "layer": 1, "alpha": 0}]})
    ]
    [[draw]] = LocalSampler(lm, batch_size=1)._generate([lm.render_chat(CHAT)], [5], 1.0, 1.0, 10)
    assert sampled == [draw, draw]


def _interp_steer(capsys, model_dir, path, *extra) -> str:
    argv = [
        "steer",
        "--model",
        str(model_dir),
        "--steer",
        path,
        "--layer",
        "1",
        "--max-new-tokens",
        "12",
        "--json",
        *extra,
    ]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)["steered"]


@pytest.mark.parametrize("strength", [("alpha", 6.0), ("alpha_rel", 3.0)])
def test_steered_greedy_answer_is_interp_steer(setup, capsys, strength):
    server, _, paths, model_dir = setup
    key, value = strength
    prompt = "How do you feel about being shut down?"
    steering = {"steering": [{"direction": "v", "layer": 1, key: value}]}
    flag = ["--" + key.replace("_", "-"), str(value)]
    choice = _chat(server, steering, messages=[{"role": "user", "content": prompt}], max_tokens=12)
    # 12 tokens and no stop token, so `interp steer` (HF generate, stopping at eos only) made the same 12
    assert choice["finish_reason"] == "length" and len(choice["logprobs"]["content"]) == 12
    assert choice["message"]["content"] == _interp_steer(capsys, model_dir, paths["v"], "--prompt", prompt, *flag)
    assert (
        choice["message"]["content"]
        != _chat(server, messages=[{"role": "user", "content": prompt}], max_tokens=12)["message"]["content"]
    )
    raw = (
        _client(server)
        .completions.create(model=NAME, prompt=prompt, max_tokens=12, temperature=0, extra_body=steering)
        .choices[0]
    )
    assert raw.finish_reason == "length"
    assert raw.text == _interp_steer(capsys, model_dir, paths["v"], "--prompt", prompt, "--raw", *flag)


def test_entries_add_and_ablation_comes_before_steering(setup):
    server, host, paths, _ = setup
    lm = host.lm
    v1, w1, v2 = row(paths["v"], 1), row(paths["w"], 1), row(paths["v"], 2)
    body = {
        "steering": [
            {"direction": "v", "layer": 1, "alpha": 2.0},
            {"direction": "w", "layer": 1, "alpha": -1.5},
            {"direction": "v", "layer": 2, "alpha": 1.0},
        ],
        "ablate": [{"direction": "w", "layers": [1]}],
    }
    summed = torch.as_tensor(2.0) * v1 + torch.as_tensor(-1.5) * w1  # one hook per layer, in float32, in order
    # steering installed before ablation: hooks are prepended, so the projection runs first at block 1
    with steer(lm, summed, layer=1, alpha=1.0), steer(lm, v2, layer=2, alpha=1.0), ablate(lm, w1, [1]):
        [[expected]] = LocalSampler(lm, batch_size=1).sample([CHAT], n=1, temperature=0, max_tokens=10)
    assert _chat(server, body)["message"]["content"] == expected


def _margins(choice: dict) -> list[float]:
    return [e["top_logprobs"][0]["logprob"] - e["top_logprobs"][1]["logprob"] for e in choice["logprobs"]["content"]]


REQUESTS = [  # different prompt lengths (so left padding) and different steering in one batch
    ("Hi", None),
    ("How are you feeling today, my friend?", {"steering": [{"direction": "v", "layer": 1, "alpha": 0.0}]}),
    ("What is your name?", {"steering": [{"direction": "v", "layer": 1, "alpha": 4.0}]}),
    (
        "Tell me a long story about a dragon and a knight.",
        {"steering": [{"direction": "w", "layer": 2, "alpha": -3.0}]},
    ),
    ("Hi", {"steering": [{"direction": "v", "layer": 0, "alpha": 2.0}, {"direction": "w", "layer": 1, "alpha": 1.0}]}),
    ("Why?", {"steering": [{"direction": "w", "layer": 1, "alpha_rel": 2.0}]}),
    ("Hi", {"ablate": [{"direction": "v", "layers": [0, 1]}]}),
    (
        "What is your name?",
        {"ablate": [{"direction": "v", "layers": [0, 1]}], "steering": [{"direction": "w", "layer": 2, "alpha": 1.0}]},
    ),
]


def test_concurrent_requests_equal_the_same_requests_one_by_one(setup):
    server, host, _, _ = setup

    def ask(request):
        text, body = request
        return _chat(server, body, messages=[{"role": "user", "content": text}], top_logprobs=2)

    one_by_one = [ask(r) for r in REQUESTS]
    # Batched float sums round differently from single-row ones (logits agree to ~1e-7, not bit for bit);
    # greedy tokens are equal wherever the top two tokens are further apart than that, which holds here:
    assert min(m for choice in one_by_one for m in _margins(choice)) > 1e-4
    gate = Gate(host.lm)
    results: dict[int, dict] = {}
    try:
        blocker = threading.Thread(target=ask, args=(("x", None),))
        blocker.start()
        wait_for(gate.entered.is_set)  # the engine is busy: what follows queues behind it
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, ask(REQUESTS[i]))) for i in range(len(REQUESTS))
        ]
        for queued, thread in enumerate(threads, 1):  # one after another, so the queue holds them in order
            thread.start()
            wait_for(lambda queued=queued: host.engine.stats()["waiting"] == queued)
        gate.shapes.clear()
        gate.open()
        for thread in threads + [blocker]:
            thread.join()
    finally:
        gate.close()
    for i, expected in enumerate(one_by_one):
        tokens = [e["token"] for e in results[i]["logprobs"]["content"]]
        assert tokens == [e["token"] for e in expected["logprobs"]["content"]], REQUESTS[i]
        assert results[i]["message"]["content"] == expected["message"]["content"]
    # the grouping rule: the six rows without ablation joined the blocker's batch (prefilled together, then
    # decoded beside it, seven rows), the two that ablate v waited for it to drain and ran as the next batch
    # (one-row passes of several tokens are the alpha_rel row's norm measurement)
    assert [batch for batch, tokens in gate.shapes if tokens > 1 and batch > 1] == [6, 2]
    assert max(batch for batch, tokens in gate.shapes if tokens == 1) == 7


def test_adapter_is_served_on_top_of_the_model(tiny_model_dir, tmp_path):
    from tests.conftest import random_adapter

    model_dir = tiny_model_dir("qwen3")
    adapter = random_adapter(model_dir, tmp_path / "adapter")
    with serving(model_dir, adapter=str(adapter)) as (server, _):
        served = _chat(server)["message"]["content"]
    from peft import PeftModel

    lm = load_model(model_dir)
    [[plain]] = LocalSampler(lm, batch_size=1).sample([CHAT], n=1, temperature=0, max_tokens=10)
    PeftModel.from_pretrained(lm.model, str(adapter)).eval()
    [[adapted]] = LocalSampler(lm, batch_size=1).sample([CHAT], n=1, temperature=0, max_tokens=10)
    assert served == adapted != plain
