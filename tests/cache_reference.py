"""A plain reference for cached rows: examples of several lengths, and the rows one unpadded HF forward per
example gives at each position rule (the layer's residual stream, the last block's before the final norm)."""

from __future__ import annotations

import numpy as np
import torch

from activations import Example, encode_example

TEXTS = ["a", "hello there", "xy", "the quick brown fox", "zz top", "1234567", "q", "lorem ipsum dolor"]


def make_examples(n=len(TEXTS)):  # noqa: B008  (TEXTS is a constant: by default each text once)
    return [
        Example(
            text=TEXTS[i % len(TEXTS)] * (1 + i // len(TEXTS)), response=f"r{'!' * (i % 3)}", label=i % 2, id=f"e{i}"
        )
        for i in range(n)
    ]


@torch.no_grad()
def reference_hidden(lm, example):
    """Plain HF forward of one unpadded example: {layer: [tokens, d_model]}, and n_prompt."""
    encoded = encode_example(lm, example)
    last = {}
    # HF's last hidden state is taken after the final norm; the residual stream of the last block is before it.
    handle = lm.layers[-1].register_forward_hook(
        lambda m, a, o: last.setdefault("h", o[0] if isinstance(o, tuple) else o)
    )
    try:
        out = lm.model(input_ids=torch.tensor([encoded.ids]), output_hidden_states=True)
    finally:
        handle.remove()
    hidden = {layer: out.hidden_states[layer + 1][0] for layer in range(lm.n_layers - 1)}
    hidden[lm.n_layers - 1] = last["h"][0]
    return hidden, encoded.n_prompt


def expected_rows(lm, examples, layers, rule):
    rows, index, positions = {layer: [] for layer in layers}, [], []
    for i, example in enumerate(examples):
        hidden, n_prompt = reference_hidden(lm, example)
        n_tokens = len(hidden[0])
        chosen = {
            "all": range(n_tokens),
            "last": [n_prompt - 1],
            "response": range(n_prompt, n_tokens),
            "response-mean": [-1],
        }[rule]
        positions.extend(chosen)
        index.extend([i] * len(chosen))
        for layer in layers:
            hidden_S = hidden[layer]
            picked = hidden_S[n_prompt:].mean(0, keepdim=True) if rule == "response-mean" else hidden_S[list(chosen)]
            rows[layer].append(picked)
    return {layer: torch.cat(r) for layer, r in rows.items()}, np.asarray(index), np.asarray(positions)
