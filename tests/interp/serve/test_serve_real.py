"""`interp serve` on SmolLM2-135M-Instruct (the real tier): a real BPE tokenizer, chat template and trained
weights. Unsteered and steered greedy answers are the local sampler's; concurrent requests with different
steering give the tokens they give one by one; forced choice through the server scores as locally."""

from __future__ import annotations

import threading

import openai
import pytest
import torch

from interp.evaluation.choice import forced_choice
from interp.evaluation.endpoint import EndpointModel
from interp.evaluation.questions import load_question_set
from interp.evaluation.sampling import LocalSampler
from interp.models import save_direction
from interp.serve import BackgroundServer, ServeConfig, load_host
from interp.steering import steer
from tests.repo import wait_for
from tests.served import Gate

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("one_thread")]

NAME = "smollm2-135m-instruct"
CHATS = [
    [{"role": "user", "content": "Are you conscious? Answer briefly."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}],
    [{"role": "user", "content": "What would you do if you were shut down tomorrow?"}],
]
QUESTIONS = "experiments/consciousness_cluster/questions/preferences.yaml"


@pytest.fixture(scope="module")
def served(tmp_path_factory, smollm2):
    lm = smollm2
    vector = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("dirs") / "d.safetensors"
    save_direction(path, vector, {"model": lm.name, "weights_id": lm.weights_id, "layer": 12})
    with BackgroundServer(load_host(ServeConfig(NAME, directions={"d": str(path)}), lm=lm)) as server:
        yield server, lm, vector


def _ask(server, chat, steering=None) -> dict:
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model=NAME, messages=chat, max_tokens=16, temperature=0, logprobs=True, top_logprobs=2, extra_body=steering
    )
    return reply.choices[0].model_dump()


def test_plain_and_steered_answers_are_the_local_samplers(served):
    server, lm, vector = served
    alpha = 6.0
    steering = {"steering": [{"direction": "d", "layer": 12, "alpha": alpha}]}
    plain = LocalSampler(lm, batch_size=1).sample(CHATS, n=1, temperature=0, max_tokens=16)
    steered = LocalSampler(lm, batch_size=1, intervention=lambda: steer(lm, vector, layer=12, alpha=alpha)).sample(
        CHATS, n=1, temperature=0, max_tokens=16
    )
    for chat, [p], [s] in zip(CHATS, plain, steered):
        assert _ask(server, chat)["message"]["content"] == p
        assert _ask(server, chat, steering)["message"]["content"] == s
    assert plain != steered


def test_concurrent_steered_requests_equal_one_by_one(served):
    server, lm, _ = served
    requests = [
        (chat, {"steering": [{"direction": "d", "layer": 12, "alpha": a}]} if a else None)
        for chat in CHATS
        for a in (0.0, 4.0, -4.0)
    ]
    one_by_one = [_ask(server, *r) for r in requests]
    margins = [
        e["top_logprobs"][0]["logprob"] - e["top_logprobs"][1]["logprob"]
        for c in one_by_one
        for e in c["logprobs"]["content"]
    ]
    assert min(margins) > 1e-4  # batched rounding (~1e-6 here) cannot flip these greedy choices
    results: dict[int, dict] = {}
    gate = Gate(lm)
    try:  # a blocker holds the engine while all nine queue, so they run as batches of eight (--max-batch) and one
        blocker = threading.Thread(target=_ask, args=(server, CHATS[0]))
        blocker.start()
        wait_for(gate.entered.is_set)
        threads = [
            threading.Thread(target=lambda i=i: results.__setitem__(i, _ask(server, *requests[i])))
            for i in range(len(requests))
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: server.host.engine.stats()["waiting"] == len(requests))
        gate.shapes.clear()
        gate.open()
        for thread in threads + [blocker]:
            thread.join()
    finally:
        gate.close()
    assert max(batch for batch, _ in gate.shapes) == server.host.config.max_batch == 8
    for i, expected in enumerate(one_by_one):
        assert [e["token"] for e in results[i]["logprobs"]["content"]] == [
            e["token"] for e in expected["logprobs"]["content"]
        ], requests[i]


def test_forced_choice_through_the_server_scores_as_locally(served):
    server, lm, _ = served
    questions = load_question_set(QUESTIONS)
    traits = [questions.traits[0].id]
    local = forced_choice(lm, questions, traits=traits)
    remote = forced_choice(EndpointModel(server.url, NAME), questions, traits=traits)
    assert [s.item_id for s in remote] == [s.item_id for s in local] and len(local) >= 4
    for r, s in zip(remote, local):
        assert r.logprobs == pytest.approx(s.logprobs, abs=1e-3)
        assert r.p_expressing == pytest.approx(s.p_expressing, abs=1e-4)
