"""interp.models: loading, the architecture registry, chat rendering, and where the residual stream is."""

import time

import pytest
import torch

from activations import capture_residual
from interp import UnsupportedArchitectureError, load_model
from interp.models import FALLBACK_CHAT_TEMPLATE, Architecture, register_architecture
from interp.models.registry import _REGISTRY
from tests.conftest import ARCHITECTURES, TINY_CONFIGS, build_tiny_model


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_tiny_model_builds_fast(arch):
    build_tiny_model(arch)  # warm the imports for this family
    start = time.perf_counter()
    build_tiny_model(arch)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_load_model_from_local_folder(arch, tiny_model_dir):
    lm = load_model(tiny_model_dir(arch))
    config = TINY_CONFIGS[arch]
    assert lm.n_layers == config.get("num_hidden_layers", config.get("n_layer"))
    assert lm.d_model == config.get("hidden_size", config.get("n_embd"))
    assert len(lm.layers) == lm.n_layers
    assert all(isinstance(block, torch.nn.Module) for block in lm.layers)
    assert not lm.model.training
    assert lm.tokenizer.pad_token is not None


def test_load_model_dtype_and_fingerprint(tiny_model_dir):
    folder = tiny_model_dir("qwen3")
    lm = load_model(folder, dtype="bfloat16")
    assert lm.dtype == torch.bfloat16
    assert load_model(folder).weights_id == load_model(folder).weights_id
    assert load_model(folder).weights_id != load_model(tiny_model_dir("qwen3", seed=1)).weights_id


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_block_output_is_hidden_state(arch, tiny_lm):
    """layers[l] output == output_hidden_states[l + 1] for all but the last block, which HF norms."""
    lm = tiny_lm(arch)
    batch = lm.tokenizer(["hello world", "hi"], return_tensors="pt", padding=True)
    with capture_residual(lm, range(lm.n_layers)) as cache, torch.no_grad():
        hidden = lm.model(**batch, output_hidden_states=True).hidden_states
    assert len(hidden) == lm.n_layers + 1
    for layer in range(lm.n_layers - 1):
        assert torch.equal(cache[layer], hidden[layer + 1]), layer
    last = lm.n_layers - 1
    assert not torch.equal(cache[last], hidden[-1])
    torch.testing.assert_close(lm.final_norm(cache[last]), hidden[-1])


def test_render_chat_uses_template(tiny_lm):
    lm = tiny_lm("qwen3")
    text = lm.render_chat([{"role": "user", "content": "Hi?"}])
    assert text == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
    closed = lm.render_chat(
        [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Yes."}], add_generation_prompt=False
    )
    assert closed.endswith("<|im_start|>assistant\nYes.<|im_end|>\n")


def test_render_chat_fallback_template(tiny_lm):
    lm = tiny_lm("llama")
    lm.tokenizer.chat_template = None
    with pytest.warns(UserWarning, match="no chat template"):
        text = lm.render_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}])
    assert lm.tokenizer.chat_template == FALLBACK_CHAT_TEMPLATE
    assert text == "<|system|>\nBe brief.<|end|>\n<|user|>\nHi?<|end|>\n<|assistant|>\n"


def _save_gpt_neox(folder):
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    from tests.conftest import VOCAB, tiny_tokenizer

    config = GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
    )
    GPTNeoXForCausalLM(config).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)


def test_unknown_architecture_names_class_and_fix(tmp_path):
    _save_gpt_neox(tmp_path)
    with pytest.raises(UnsupportedArchitectureError) as err:
        load_model(tmp_path)
    message = str(err.value)
    assert "GPTNeoXForCausalLM" in message and "'gpt_neox'" in message and "register_architecture" in message


def test_register_architecture_then_load(tmp_path):
    _save_gpt_neox(tmp_path)
    neox = Architecture(layers="gpt_neox.layers", final_norm="gpt_neox.final_layer_norm", embed="gpt_neox.embed_in")
    try:
        register_architecture("gpt_neox", neox)
        with pytest.raises(ValueError, match="already registered"):
            register_architecture("gpt_neox", neox)
        lm = load_model(tmp_path)
        assert lm.n_layers == 2 and lm.d_model == 32
        batch = lm.tokenizer(["hello"], return_tensors="pt")
        with capture_residual(lm, [0]) as cache, torch.no_grad():
            hidden = lm.model(**batch, output_hidden_states=True).hidden_states
        assert torch.equal(cache[0], hidden[1])
    finally:
        _REGISTRY.pop("gpt_neox", None)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(tmp_path)


def test_resolve_layer(tiny_lm):
    lm = tiny_lm("llama")
    assert lm.resolve_layer(-1) == 2 and lm.resolve_layer(0) == 0
    with pytest.raises(ValueError, match="out of range.*3 layers"):
        lm.resolve_layer(3)
