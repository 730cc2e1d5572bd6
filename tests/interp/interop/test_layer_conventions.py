"""The README's table of layer conventions, the rows that name a place in a running model: the
toolkit's layer L (the output of block L) read as Hugging Face's `output_hidden_states`,
TransformerLens's hook names (its `TransformerBridge`) and nnsight's modules, with the real
libraries. The file-format rows are tested in test_control_vector.py and test_foreign_directions.py.
"""

import pytest
import torch

from activations import capture_residual
from interp import load_model

TEXT = ["Layer L is the output of block L."]


def _toolkit(lm, input_ids) -> dict[int, torch.Tensor]:
    with capture_residual(lm, range(lm.n_layers)) as cache, torch.no_grad():
        lm.model(input_ids=input_ids)
    return cache


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gpt2"])
def test_hugging_face_hidden_states_are_one_ahead(arch, tiny_lm):
    lm = tiny_lm(arch)
    input_ids = lm.tokenizer(TEXT, return_tensors="pt")["input_ids"]
    ours = _toolkit(lm, input_ids)
    with torch.no_grad():
        states = lm.model(input_ids=input_ids, output_hidden_states=True).hidden_states
        embeddings = lm.model.get_input_embeddings()(input_ids)
    assert len(states) == lm.n_layers + 1
    for layer in range(lm.n_layers - 1):
        assert torch.equal(states[layer + 1], ours[layer])
    # the last entry is taken after the final norm; the toolkit's last layer before it
    torch.testing.assert_close(states[lm.n_layers], lm.final_norm(ours[lm.n_layers - 1]), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(states[lm.n_layers], ours[lm.n_layers - 1])
    if arch != "gpt2":  # GPT-2's hidden_states[0] adds position embeddings to the token embeddings
        assert torch.equal(states[0], embeddings)


def test_transformer_lens_resid_post_and_resid_pre(tiny_model_dir):
    from transformer_lens.model_bridge import TransformerBridge

    folder = tiny_model_dir("llama")
    lm = load_model(folder)
    input_ids = lm.tokenizer(TEXT, return_tensors="pt")["input_ids"]
    ours = _toolkit(lm, input_ids)
    with torch.no_grad():
        embeddings = lm.model(input_ids=input_ids, output_hidden_states=True).hidden_states[0]
    # the bridge wraps the HF modules in place, so it gets a model of its own
    bridge = TransformerBridge.boot_transformers(
        str(folder), hf_model=load_model(folder).model, tokenizer=lm.tokenizer, device="cpu"
    )
    _, cache = bridge.run_with_cache(
        input_ids, names_filter=lambda name: name.endswith(("hook_resid_post", "hook_resid_pre"))
    )
    close = dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cache["blocks.0.hook_resid_pre"], embeddings, **close)
    for layer in range(lm.n_layers):
        torch.testing.assert_close(cache[f"blocks.{layer}.hook_resid_post"], ours[layer], **close)
        if layer + 1 < lm.n_layers:
            torch.testing.assert_close(cache[f"blocks.{layer + 1}.hook_resid_pre"], ours[layer], **close)
    assert not torch.allclose(cache["blocks.1.hook_resid_pre"], ours[1], **close)


def test_nnsight_layer_output(tiny_lm):
    from nnsight import TransformersModel

    lm = tiny_lm("llama")
    input_ids = lm.tokenizer(TEXT, return_tensors="pt")["input_ids"]
    ours = _toolkit(lm, input_ids)
    traced = TransformersModel(lm.model, tokenizer=lm.tokenizer, task="text-generation")
    saved = []
    with traced.trace(input_ids):  # nnsight traces this block's source: plain loops, no comprehensions
        for layer in range(lm.n_layers):
            saved.append(traced.model.layers[layer].output.save())
    for layer, output in enumerate(saved):
        output = output[0] if isinstance(output, tuple) else output
        assert torch.equal(output, ours[layer])
