"""`interp serve` through clients no one here wrote: the official `openai` client (chat, completions,
streaming, log-probs, `extra_body` steering) and inspect_ai's OpenAI-compatible provider, against a
tiny model served on a free loopback port; answers checked against the toolkit's local sampler."""

from __future__ import annotations

import json
import math

import openai
import pytest
import torch

from interp.evaluation.sampling import LocalSampler
from interp.steering import steer
from tests.served import NAME, row, serving_v

pytestmark = pytest.mark.usefixtures("one_thread")

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do you feel today?"}]


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    with serving_v(tiny_model_dir, tmp_path_factory) as (server, host, _, path):
        yield server, host, path


@pytest.fixture(scope="module")
def client(setup):
    return openai.OpenAI(base_url=setup[0].url, api_key="unused", max_retries=0)


def _local(lm, path=None, layer=1, alpha=0.0):
    intervention = (lambda: steer(lm, row(path, layer), layer=layer, alpha=alpha)) if path else None
    return LocalSampler(lm, batch_size=1, intervention=intervention)


def test_models_lists_the_served_model_and_its_directions(client):
    [card] = client.models.list().data
    assert card.id == NAME and card.owned_by == "interp"
    assert card.model_extra["directions"] == [{"name": "v", "layers": [0, 1, 2], "model": card.root, "method": ""}]


def test_chat_greedy_and_seeded_answers_are_the_local_samplers(client, setup):
    lm = setup[1].lm
    reply = client.chat.completions.create(model=NAME, messages=CHAT, max_tokens=8, temperature=0)
    [[expected]] = _local(lm).sample([CHAT], n=1, temperature=0, max_tokens=8)
    assert reply.choices[0].message.content == expected and reply.choices[0].message.role == "assistant"
    prompt_tokens = len(lm.tokenizer(lm.render_chat(CHAT), add_special_tokens=False)["input_ids"])
    assert reply.usage.prompt_tokens == prompt_tokens and reply.usage.total_tokens == prompt_tokens + 8
    # n choices: choice j draws with seed + j, as LocalSampler's sample k draws with its own seed
    seeded = client.chat.completions.create(model=NAME, messages=CHAT, max_tokens=6, n=3, seed=11, top_p=0.9)
    for j, choice in enumerate(seeded.choices):
        [[draw]] = LocalSampler(lm, batch_size=1)._generate([lm.render_chat(CHAT)], [11 + j], 1.0, 0.9, 6)
        assert choice.index == j and choice.message.content == draw
    assert len({c.message.content for c in seeded.choices}) == 3


def test_extra_body_steering_is_interp_steering(client, setup):
    lm, path = setup[1].lm, setup[2]
    steered = client.chat.completions.create(
        model=NAME,
        messages=CHAT,
        max_tokens=8,
        temperature=0,
        extra_body={"steering": [{"direction": "v", "layer": 1, "alpha": 2.5}]},
    )
    [[expected]] = _local(lm, path, 1, 2.5).sample([CHAT], n=1, temperature=0, max_tokens=8)
    [[plain]] = _local(lm).sample([CHAT], n=1, temperature=0, max_tokens=8)
    assert steered.choices[0].message.content == expected != plain


def test_chat_logprobs_are_the_models_log_softmax(client, setup):
    lm = setup[1].lm
    reply = client.chat.completions.create(
        model=NAME, messages=CHAT, max_tokens=3, temperature=0, logprobs=True, top_logprobs=3
    )
    ids = lm.tokenizer(lm.render_chat(CHAT), add_special_tokens=False, return_tensors="pt")["input_ids"]
    entries = reply.choices[0].logprobs.content
    assert len(entries) == 3
    with torch.no_grad():
        for entry in entries:
            logp_V = torch.log_softmax(lm.model(input_ids=ids).logits[0, -1].float(), -1)
            top = logp_V.topk(3)
            token = int(top.indices[0])
            assert entry.token == lm.tokenizer.decode([token]) and entry.bytes == list(entry.token.encode())
            assert entry.logprob == pytest.approx(float(logp_V[token]), abs=1e-5)
            assert [t.logprob for t in entry.top_logprobs] == pytest.approx(top.values.tolist(), abs=1e-5)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)


def test_streamed_chat_is_the_whole_answer_in_pieces(client):
    kwargs = dict(model=NAME, messages=CHAT, max_tokens=12, temperature=0, logprobs=True)
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == whole.choices[0].message.content
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert [(t.token, t.logprob) for t in streamed] == [(t.token, t.logprob) for t in whole.choices[0].logprobs.content]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 12


def test_stream_ends_with_done_on_the_wire(setup):
    import httpx

    body = {"model": NAME, "prompt": "abc", "max_tokens": 3, "temperature": 0, "stream": True}
    with httpx.stream("POST", setup[0].url + "/completions", json=body, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)
    texts = [json.loads(e[6:])["choices"][0]["text"] for e in events[:-1]]
    assert len("".join(texts)) > 0


def test_completion_echo_logprobs_score_a_prompt(client, setup):
    """Forced choice through the server: the prompt's tokens' log-probs, as a plain forward pass gives them."""
    lm = setup[1].lm
    text = "The answer is yes"
    reply = client.completions.create(model=NAME, prompt=text, max_tokens=0, echo=True, logprobs=2)
    choice = reply.choices[0]
    ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp_TV = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
    expected = [float(logp_TV[t - 1, ids[0, t]]) for t in range(1, ids.shape[1])]
    assert choice.text == text and choice.logprobs.token_logprobs[0] is None
    assert choice.logprobs.token_logprobs[1:] == pytest.approx(expected, abs=1e-5)
    assert choice.logprobs.tokens == [lm.tokenizer.decode([t]) for t in ids[0].tolist()]
    assert choice.logprobs.text_offset == list(range(len(text)))  # one byte per token
    # the legacy shape keys alternatives by text, so two tokens that decode alike (bytes of one character) merge
    assert choice.logprobs.top_logprobs[0] is None
    best = [max(top.values()) for top in choice.logprobs.top_logprobs[1:]]
    assert best == pytest.approx(logp_TV[:-1].max(-1).values.tolist(), abs=1e-5)
    # token ids as the prompt, with a generated token after the echo
    by_ids = client.completions.create(
        model=NAME, prompt=ids[0].tolist(), max_tokens=1, echo=True, logprobs=0, temperature=0
    )
    assert by_ids.choices[0].logprobs.token_logprobs[: len(expected) + 1] == choice.logprobs.token_logprobs
    assert by_ids.choices[0].text.startswith(text) and by_ids.usage.completion_tokens == 1


def test_completions_take_several_prompts_stops_and_steering(client, setup):
    lm, path = setup[1].lm, setup[2]
    reply = client.completions.create(
        model=NAME, prompt=["one", "a longer prompt"], max_tokens=5, temperature=0, n=2, seed=3
    )
    assert [c.index for c in reply.choices] == [0, 1, 2, 3]
    assert reply.choices[0].text == reply.choices[1].text  # greedy: the seed does not matter
    first = reply.choices[2].text
    cut = client.completions.create(
        model=NAME, prompt="a longer prompt", max_tokens=5, temperature=0, stop=[first[2:4]]
    )
    assert cut.choices[0].text == first[: first.index(first[2:4])] and cut.choices[0].finish_reason == "stop"
    body = {"ablate": [{"direction": "v", "layers": [0, 2]}], "steering": [{"direction": "v", "layer": 1, "alpha": 3}]}
    steered = client.completions.create(model=NAME, prompt="one", max_tokens=5, temperature=0, extra_body=body)
    from interp.steering import ablate

    rows = torch.stack([row(path, 0), row(path, 2)])
    with steer(lm, row(path, 1), layer=1, alpha=3.0), ablate(lm, rows, [0, 2]), torch.no_grad():
        ids = lm.tokenizer("one", return_tensors="pt")["input_ids"]
        out = lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=5,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=lm.tokenizer.pad_token_id,
        )
    assert steered.choices[0].text == lm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_tokenize_renders_the_chat_as_the_model_does(setup):
    import httpx

    lm = setup[1].lm
    reply = httpx.post(setup[0].url + "/tokenize", json={"model": NAME, "messages": CHAT}, timeout=30).json()
    text = lm.render_chat(CHAT)
    assert reply["prompt"] == text and reply["max_model_len"] == 512
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert reply["tokens"] == ids and reply["count"] == len(ids)


def test_inspect_openai_provider_runs_a_one_sample_eval(setup, tmp_path, monkeypatch):
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import exact
    from inspect_ai.solver import generate

    server, host, path = setup
    steering = {"steering": [{"direction": "v", "layer": 1, "alpha": 2.5}]}
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    expected, plain = (
        client.chat.completions.create(model=NAME, messages=[CHAT[1]], max_tokens=6, temperature=0, extra_body=body)
        .choices[0]
        .message.content
        for body in (steering, None)
    )
    assert expected != plain  # so the answer shows that inspect sent the steering
    monkeypatch.setenv("INTERP_API_KEY", "unused")  # the provider wants a key; this server asks for none
    task = Task(dataset=[Sample(input=CHAT[1]["content"], target=expected)], solver=generate(), scorer=exact())
    [log] = inspect_eval(
        task,
        model=f"openai-api/interp/{NAME}",
        model_base_url=server.url,
        log_dir=str(tmp_path),
        display="none",
        temperature=0,
        max_tokens=6,
        extra_body=steering,
    )
    assert log.status == "success"
    [sample] = log.samples
    assert sample.output.completion == expected
    assert sample.scores["exact"].value == "C"
    assert sample.output.usage.output_tokens == 6 and not math.isnan(sample.output.usage.input_tokens)
