"""A plain reference for "add this vector to the output of block k", against the toolkit's steering.

Other tools (llama.cpp, repeng, EasySteer, steering-vectors, persona_vectors) all add their vector
to a decoder block's output; here that is a plain forward hook on `model.model.layers[k]`. It is
prepended like the toolkit's hooks, so transformers' `output_hidden_states` recorder (itself a hook
on the blocks) sees the steered states.
"""

import torch

from interp import steer


def plain_adder(vector_D: torch.Tensor):
    """What llama.cpp, repeng, EasySteer and steering-vectors do at block k: output + vector."""

    def hook(module, args, output):
        if isinstance(output, tuple):
            return (output[0] + vector_D, *output[1:])
        return output + vector_D

    return hook


def hidden_states(lm, ids, block=None, vector_D=None) -> tuple[torch.Tensor, ...]:
    """All of `output_hidden_states`, with `vector_D` added to block `block`'s output by a plain hook."""
    handle = None
    if block is not None:
        handle = lm.model.model.layers[block].register_forward_hook(plain_adder(vector_D), prepend=True)
    try:
        with torch.no_grad():
            return lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    finally:
        if handle is not None:
            handle.remove()


def toolkit_hidden_states(lm, ids, direction, layer, alpha):
    with steer(lm, direction, layer=layer, alpha=alpha), torch.no_grad():
        return lm.model(input_ids=ids, output_hidden_states=True).hidden_states


def assert_same_steering(lm, ids, toolkit_layer, block, vector_D, direction, alpha):
    """The toolkit's steering at `toolkit_layer` and a plain add at `block` give identical hidden
    states, and they are pinned: states up to the block's input unchanged, its output moved."""
    plain = hidden_states(lm, ids, block, vector_D)
    ours = toolkit_hidden_states(lm, ids, direction, toolkit_layer, alpha)
    base = hidden_states(lm, ids)
    for index, (a, b) in enumerate(zip(plain, ours)):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"hidden_states[{index}]")
    for index in range(block + 1):
        assert torch.equal(plain[index], base[index])
    assert not torch.allclose(plain[block + 1], base[block + 1])


def ids_for(lm, text="Directions travel between tools."):
    return lm.tokenizer([text], return_tensors="pt")["input_ids"]
