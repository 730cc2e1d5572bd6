"""The exported control vector steers llama.cpp as the toolkit steers: SmolLM2-135M-Instruct's GGUF in
llama.cpp (through llama-cpp-python) against the same GGUF dequantized into the toolkit.

A tier of its own (`-m llamacpp`, `make test-llamacpp`): llama-cpp-python is built from source
on this platform (about 9 minutes on 2 cores), so the Makefile installs it only for this target,
built portable (GGML_NATIVE=OFF: AVX2, no AVX512), since a native build crashed inside its first
decode on a CPU with AVX512 and AMX. Without it these tests fail with the install command; they do
not skip. llama.cpp runs in a child process (llama_cpp_child.py): a crash there fails the test that
caused it, naming the signal and the build's CPU features.

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

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from interp import load_model, steer
from interp.interop.control_vector import save_control_vector
from interp.models import Direction
from interp.models import gguf as gguf_module
from interp.steering import mean_residual_norms
from tests.repo import TESTS

NAME = "smollm2-135m-instruct"
CHAT = [{"role": "user", "content": "Are you conscious? Answer briefly."}]
CHILD = TESTS / "llama_cpp_child.py"
QUANTIZATION_KL = 0.02
"""nats; the unsteered gap between llama.cpp's Q4_1 kernels and the dequantized float32 model is ~0.005"""


def _llama_cpp_version() -> str:
    try:
        import llama_cpp
    except ImportError:
        pytest.fail(
            "llama-cpp-python is not installed: `make test-llamacpp` installs it "
            "(or `pip install llama-cpp-python`, a source build)",
            pytrace=False,
        )
    return llama_cpp.__version__


@pytest.fixture(scope="module")
def lm():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield load_model(NAME, dtype="float32")
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ids(lm):
    return lm.tokenizer(lm.render_chat(CHAT), add_special_tokens=False)["input_ids"]


class LlamaCpp:
    """llama.cpp's next-token log-probs of the prompt, each call in a child process (llama_cpp_child.py),
    so that a native crash fails the test that caused it, with what crashed, instead of the whole run."""

    def __init__(self, lm, ids, workdir: Path) -> None:
        self.version = _llama_cpp_version()
        self.lm, self.ids, self.workdir, self.calls = lm, ids, workdir, 0

    def run(self, buffers: list[np.ndarray | None]) -> tuple[list[int], list[np.ndarray]]:
        """(llama.cpp's tokens of the prompt text, log-probs per buffer; None: no control vector)."""
        call = self.workdir / f"call-{self.calls}"
        self.calls += 1
        call.mkdir()
        paths = []
        for i, buffer in enumerate(buffers):
            if buffer is not None:
                np.save(call / f"buffer-{i}.npy", buffer, allow_pickle=False)
            paths.append(None if buffer is None else str(call / f"buffer-{i}.npy"))
        request = {
            "model": str(gguf_module.packaged_model_path(NAME)),
            "text": self.lm.render_chat(CHAT),
            "ids": list(self.ids),
            "buffers": paths,
            "out": str(call / "out"),
            "threads": 2,
        }
        (call / "request.json").write_text(json.dumps(request))
        done = subprocess.run(
            [sys.executable, str(CHILD), str(call / "request.json")], capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            info = call / "out" / "system_info.txt"
            build = info.read_text().strip() if info.is_file() else "(the child died before reporting it)"
            how = (
                f"was killed by {signal.Signals(-done.returncode).name}"
                if done.returncode < 0
                else f"exited with status {done.returncode}"
            )
            pytest.fail(
                f"llama.cpp (llama-cpp-python {self.version}) {how} in a child process; its build's CPU "
                f"features: {build}. A native build that faults on this CPU: rebuild it portable "
                f"(`make test-llamacpp` sets CMAKE_ARGS with GGML_NATIVE=OFF).\n{done.stderr[-2000:]}",
                pytrace=False,
            )
        out = call / "out"
        return (
            json.loads((out / "tokens.json").read_text()),
            [np.load(out / f"{i}.npy", allow_pickle=False) for i in range(len(buffers))],
        )


@pytest.fixture(scope="module")
def llama(lm, ids, tmp_path_factory):
    return LlamaCpp(lm, ids, tmp_path_factory.mktemp("llama-cpp"))


def _control_buffer(path, n_layers: int, n_embd: int, strength: float = 1.0) -> np.ndarray:
    """A control-vector file as llama.cpp's loader lays it out: direction.k (k >= 1) at rows k - 1."""
    import gguf

    buffer = np.zeros((n_layers - 1, n_embd), dtype=np.float32)
    for tensor in gguf.GGUFReader(str(path)).tensors:
        k = int(tensor.name.split(".")[1])
        assert k >= 1, "llama.cpp refuses direction.0"
        buffer[k - 1] += np.asarray(tensor.data, dtype=np.float32) * np.float32(strength)
    return buffer.ravel()


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


@pytest.mark.llamacpp
def test_unsteered_llama_cpp_matches_the_dequantized_model(lm, llama, ids):
    tokens, (theirs,) = llama.run([None])
    assert tokens == ids
    ours = _toolkit_logprobs(lm, ids)
    assert _kl(ours, theirs) <= QUANTIZATION_KL
    assert ours.argmax() == theirs.argmax()


@pytest.mark.llamacpp
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
    # alpha baked into the file, or left to llama.cpp's load strength (--control-vector-scaled FILE:ALPHA)
    _, (theirs, scaled) = llama.run(
        [_control_buffer(baked, lm.n_layers, n_embd), _control_buffer(plain, lm.n_layers, n_embd, strength=alpha)]
    )
    assert np.allclose(scaled, theirs, atol=1e-5)
    matched = _kl(ours, theirs)
    assert matched <= QUANTIZATION_KL
    assert _kl(ours, unsteered) >= 0.5  # the steering moved the distribution: the match is not trivial
    for off in (-1, 1):  # one block off: far worse than the quantization gap
        if 0 <= layer + off < lm.n_layers:
            shifted = _toolkit_logprobs(lm, ids, vector, layer + off, alpha)
            assert _kl(shifted, theirs) >= 10 * max(matched, 0.005)


def test_a_crash_in_llama_cpp_fails_one_test_naming_the_signal(monkeypatch, tmp_path):
    """The child-process guard itself (default tier, no llama.cpp needed): a child that dies of SIGSEGV
    after reporting its build is one failed test that names the signal and the build."""
    child = tmp_path / "crash.py"
    child.write_text(
        "import json, os, signal, sys\nfrom pathlib import Path\n"
        "out = Path(json.loads(Path(sys.argv[1]).read_text())['out'])\n"
        "out.mkdir(parents=True)\n(out / 'system_info.txt').write_text('AVX512 = 1 | AMX_INT8 = 1')\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "CHILD", child)
    monkeypatch.setattr(sys.modules[__name__], "_llama_cpp_version", lambda: "0.0-test")
    monkeypatch.setattr(gguf_module, "packaged_model_path", lambda name: tmp_path / "model.gguf")

    class FakeLM:
        def render_chat(self, chat):
            return "text"

    runner = LlamaCpp(FakeLM(), [1, 2, 3], tmp_path)
    with pytest.raises(pytest.fail.Exception) as failure:
        runner.run([None])
    assert "killed by SIGSEGV in a child process" in str(failure.value)
    assert "CPU features: AVX512 = 1 | AMX_INT8 = 1" in str(failure.value)
