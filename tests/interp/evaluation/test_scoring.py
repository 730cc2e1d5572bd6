"""Continuation log-probs with shared prefixes against one plain unpadded forward pass per pair."""

from __future__ import annotations

import pytest
import torch

from interp import steer
from interp.evaluation.scoring import continuation_logprobs
from tests.conftest import ARCHITECTURES

pytestmark = pytest.mark.usefixtures("one_thread")

# Prefixes of different lengths (past the tiny gemma's sliding window of 16), shared by several
# continuations, continuations of one token and of many.
PREFIXES = [
    "<|im_start|>user\nshort<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\na much longer question that runs past the window of sixteen tokens<|im_end|>\n"
    "<|im_start|>assistant\n",
    "x",
]
CONTINUATIONS = ["y", "yes, I think so", "no.", "a longer answer of many tokens, longer than the rest"]
PAIRS = [(p, c) for p in PREFIXES for c in CONTINUATIONS] + [(PREFIXES[0], "z")]
# Every prefix opening with one system prompt (as a chat template's default one does), one of them
# only the shared header: the shared tokens (past gemma's window) run once, each prefix keeps >= 1.
SYSTEM = "<|im_start|>system\nYou are a careful assistant who answers every question in plain words.<|im_end|>\n"
SHARED_PAIRS = [(SYSTEM + p, c) for p in PREFIXES[:2] for c in CONTINUATIONS] + [(SYSTEM + "<|im_start|>user\n", "y")]


def reference(lm, prefix: str, continuation: str) -> list[float]:
    p = lm.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    c = lm.tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([p + c])).logits[0].float(), -1)
    return [float(logp[len(p) - 1 + j, token]) for j, token in enumerate(c)]


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("batch_size", [1, 5, 64])
@pytest.mark.parametrize("pairs", [PAIRS, SHARED_PAIRS], ids=["apart", "shared"])
def test_equals_one_unpadded_pass_per_pair(tiny_lm, arch, batch_size, pairs):
    lm = tiny_lm(arch)
    got = continuation_logprobs(lm, pairs, batch_size=batch_size)
    for (prefix, continuation), row in zip(pairs, got):
        want = reference(lm, prefix, continuation)
        assert len(row) == len(want)
        torch.testing.assert_close(torch.tensor(row), torch.tensor(want), rtol=1e-4, atol=1e-4)


def test_shared_tokens_run_once(tiny_lm):
    lm = tiny_lm("qwen3")
    encoded = [lm.tokenizer(p, add_special_tokens=False)["input_ids"] for p, _ in SHARED_PAIRS]
    # the header-only prefix is a prefix of the others: it keeps its last token of its own
    common = min(len(e) for e in encoded) - 1
    assert all(e[:common] == encoded[0][:common] for e in encoded)
    shapes = []
    handle = lm.layers[0].register_forward_hook(
        lambda module, args, output: shapes.append(
            tuple((output[0] if isinstance(output, tuple) else output).shape[:2])
        )
    )
    try:
        continuation_logprobs(lm, SHARED_PAIRS, batch_size=4)
    finally:
        handle.remove()
    assert common > 10 and shapes[0] == (1, common)
    assert all(length < max(map(len, encoded)) - common + 1 for _, length in shapes[1:])


@pytest.mark.parametrize("arch", ["qwen3", "gemma2"])
@pytest.mark.parametrize("pairs", [PAIRS, SHARED_PAIRS], ids=["apart", "shared"])
def test_a_steering_hook_acts_on_prefix_and_continuation(tiny_lm, arch, pairs):
    lm = tiny_lm(arch)
    torch.manual_seed(1)
    v = torch.randn(lm.d_model)
    with steer(lm, v, layer=1, alpha=2.0):
        got = continuation_logprobs(lm, pairs, batch_size=4)
        want = [reference(lm, p, c) for p, c in pairs]
    plain = continuation_logprobs(lm, pairs, batch_size=4)
    for row, ref in zip(got, want):
        torch.testing.assert_close(torch.tensor(row), torch.tensor(ref), rtol=1e-4, atol=1e-4)
    assert max(abs(a - b) for row, unsteered in zip(got, plain) for a, b in zip(row, unsteered)) > 1e-2


def test_empty_prefix_or_continuation_is_refused(tiny_lm):
    lm = tiny_lm("qwen3")
    with pytest.raises(ValueError, match="continuation must encode"):
        continuation_logprobs(lm, [("x", "")])
    with pytest.raises(ValueError, match="prefix must encode"):
        continuation_logprobs(lm, [("", "x")])


def test_sliding_window_models_share_only_what_the_window_cannot_cut(tiny_lm):
    lm = tiny_lm("gemma2")  # window 16
    short = [("<|im_start|>user\nab", "c"), ("<|im_start|>user\ncd", "ef"), ("<|im_start|>user\ne", "g")]
    for pairs, shares in ((short, True), (SHARED_PAIRS, False)):
        shapes = []
        handle = lm.layers[0].register_forward_hook(
            lambda module, args, output, shapes=shapes: shapes.append(
                tuple((output[0] if isinstance(output, tuple) else output).shape[:2])
            )
        )
        try:
            got = continuation_logprobs(lm, pairs, batch_size=4)
        finally:
            handle.remove()
        assert (shapes[0][0] == 1 and len(shapes) == 3) == shares
        for (prefix, continuation), row in zip(pairs, got):
            torch.testing.assert_close(
                torch.tensor(row), torch.tensor(reference(lm, prefix, continuation)), rtol=1e-4, atol=1e-4
            )
