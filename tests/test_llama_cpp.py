"""The exported control vector steers llama.cpp as the toolkit steers: SmolLM2-135M-Instruct's GGUF in
llama.cpp (through llama-cpp-python) against the same GGUF dequantized into the toolkit.

A tier of its own (`-m llamacpp`, `make test-llamacpp`): llama-cpp-python is built from source
on this platform (about 9 minutes on 2 cores), so the Makefile installs it only for this target.
Without it these tests fail with the install command; they do not skip.

The file goes from the toolkit's writer (`save_control_vector`) to llama.cpp the way llama.cpp's
`common_control_vector_load` does it: tensor `direction.k`, times the load strength, into a
buffer that starts at block 1 (`llama.h`: "an n_embd x n_layers buffer starting from layer 1").
llama.cpp then adds buffer row k to the output of block k. llama.cpp runs the Q4_1 weights with
quantized activations; the toolkit runs the same weights dequantized to float32, so the two
next-token distributions differ a little unsteered already (KL about 0.005 nats measured); the
tolerance below, 0.02 nats, is four times that. A vector placed one block off moves the
distribution by 0.36 nats or more in the same measurement.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import torch

from interp import load_model, steer
from interp.interop.control_vector import save_control_vector
from interp.models import Direction
from interp.models import gguf as gguf_module
from interp.steering import mean_residual_norms

pytestmark = pytest.mark.llamacpp

NAME = "smollm2-135m-instruct"
CHAT = [{"role": "user", "content": "Are you conscious? Answer briefly."}]
QUANTIZATION_KL = 0.02
"""nats; the unsteered gap between llama.cpp's Q4_1 kernels and the dequantized float32 model is ~0.005"""


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        pytest.fail("llama-cpp-python is not installed: `make test-llamacpp` installs it "
                    "(or `pip install llama-cpp-python`, a source build)", pytrace=False)
    return llama_cpp


@pytest.fixture(scope="module")
def lm():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield load_model(NAME, dtype="float32")
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def llama(lm):
    llama_cpp = _llama_cpp()
    model = llama_cpp.Llama(model_path=str(gguf_module.packaged_model_path(NAME)), n_ctx=256, n_threads=2,
                            logits_all=True, verbose=False)
    yield model
    model.close()


@pytest.fixture(scope="module")
def ids(lm):
    return lm.tokenizer(lm.render_chat(CHAT), add_special_tokens=False)["input_ids"]


def _control_buffer(path, n_layers: int, n_embd: int, strength: float = 1.0) -> np.ndarray:
    """A control-vector file as llama.cpp's loader lays it out: direction.k (k >= 1) at rows k - 1."""
    import gguf

    buffer = np.zeros((n_layers - 1, n_embd), dtype=np.float32)
    for tensor in gguf.GGUFReader(str(path)).tensors:
        k = int(tensor.name.split(".")[1])
        assert k >= 1, "llama.cpp refuses direction.0"
        buffer[k - 1] += np.asarray(tensor.data, dtype=np.float32) * np.float32(strength)
    return buffer.ravel()


def _llama_logprobs(llama, ids, buffer: np.ndarray | None) -> np.ndarray:
    llama_cpp = _llama_cpp()
    n_embd = llama.n_embd()
    if buffer is None:
        rc = llama_cpp.llama_set_adapter_cvec(llama._ctx.ctx, None, 0, n_embd, -1, -1)
    else:
        n_layers = buffer.size // n_embd + 1
        rc = llama_cpp.llama_set_adapter_cvec(llama._ctx.ctx, buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                              buffer.size, n_embd, 1, n_layers - 1)
    assert rc == 0
    llama.reset()
    llama.eval(ids)
    logits = np.asarray(llama.scores[len(ids) - 1], dtype=np.float64)
    return logits - np.logaddexp.reduce(logits)


@torch.no_grad()
def _toolkit_logprobs(lm, ids, vector=None, layer=None, alpha=1.0) -> np.ndarray:
    x = torch.tensor([ids])
    if vector is None:
        logits = lm.model(input_ids=x).logits[0, -1]
    else:
        with steer(lm, vector, layer=layer, alpha=alpha):
            logits = lm.model(input_ids=x).logits[0, -1]
    return torch.log_softmax(logits.double(), -1).numpy()


def _kl(p_log: np.ndarray, q_log: np.ndarray) -> float:
    """KL(p || q) in nats from log-probabilities."""
    return float((np.exp(p_log) * (p_log - q_log)).sum())


def test_unsteered_llama_cpp_matches_the_dequantized_model(lm, llama, ids):
    assert llama.tokenize(lm.render_chat(CHAT).encode(), add_bos=False, special=True) == ids
    ours, theirs = _toolkit_logprobs(lm, ids), _llama_logprobs(llama, ids, None)
    assert _kl(ours, theirs) <= QUANTIZATION_KL
    assert ours.argmax() == theirs.argmax()


@pytest.mark.parametrize("layer", [1, 10, 29])
def test_exported_vector_steers_llama_cpp_at_the_same_layer(lm, llama, ids, layer, tmp_path):
    n_embd = lm.model.config.hidden_size
    norm = mean_residual_norms(lm, [lm.render_chat(CHAT)], [layer])[layer]
    vector = torch.randn(n_embd, generator=torch.Generator().manual_seed(layer))
    vector = vector * (norm / vector.norm())  # one mean residual norm: relative alpha 1
    direction = Direction(vector[None], layers=(layer,), model=lm.name, weights_id=lm.weights_id)
    alpha = 0.75
    baked = save_control_vector(direction, tmp_path / "baked.gguf", alpha=alpha)
    plain = save_control_vector(direction, tmp_path / "plain.gguf")
    unsteered = _toolkit_logprobs(lm, ids)
    ours = _toolkit_logprobs(lm, ids, vector, layer, alpha)
    theirs = _llama_logprobs(llama, ids, _control_buffer(baked, lm.n_layers, n_embd))
    # alpha baked into the file, or left to llama.cpp's load strength (--control-vector-scaled FILE:ALPHA)
    scaled = _llama_logprobs(llama, ids, _control_buffer(plain, lm.n_layers, n_embd, strength=alpha))
    assert np.allclose(scaled, theirs, atol=1e-5)
    matched = _kl(ours, theirs)
    assert matched <= QUANTIZATION_KL
    assert _kl(ours, unsteered) >= 0.5  # the steering moved the distribution: the match is not trivial
    for off in (-1, 1):  # one block off: far worse than the quantization gap
        if 0 <= layer + off < lm.n_layers:
            shifted = _toolkit_logprobs(lm, ids, vector, layer + off, alpha)
            assert _kl(shifted, theirs) >= 10 * max(matched, 0.005)
