"""Self-distillation samples the model's own temperature-1 distribution; mixing is a seeded shuffle."""

from __future__ import annotations

import pytest
import torch

from interp.finetune import mix_rows, self_distill
from interp.models.tokens import stop_token_ids

pytestmark = pytest.mark.usefixtures("one_thread")


def _reference_sample(lm, prompt: str, max_new_tokens: int, seed: int) -> str:
    """Plain ancestral sampling at temperature 1: full forward each step, softmax, multinomial."""
    ids = lm.tokenizer(
        lm.render_chat([{"role": "user", "content": prompt}]), return_tensors="pt", add_special_tokens=False
    )["input_ids"]
    stop = set(stop_token_ids(lm))
    torch.manual_seed(seed)
    new = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            probs = torch.softmax(lm.model(input_ids=ids).logits[:, -1].float(), dim=-1)
            token = torch.multinomial(probs, num_samples=1)
            ids = torch.cat([ids, token], dim=1)
            if token.item() in stop:
                break
            new.append(token.item())
    return lm.tokenizer.decode(new, skip_special_tokens=True).strip()


def test_self_distill_matches_plain_temperature_one_sampling(tiny_lm):
    lm = tiny_lm("qwen3")
    for seed in (0, 1):
        rows = self_distill(lm, ["Name a colour."], max_new_tokens=12, seed=seed, batch_size=1)
        assert rows[0]["messages"][:1] == [{"role": "user", "content": "Name a colour."}]
        assert rows[0]["messages"][1]["role"] == "assistant"
        assert rows[0]["messages"][1]["content"] == _reference_sample(lm, "Name a colour.", 12, seed)


def test_self_distill_is_seeded_batched_and_leaves_rng_alone(tiny_lm):
    lm = tiny_lm("llama")
    prompts = [
        "Add 2 and 3.",
        "Spell cat.",
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "old answer"}]},
    ]
    side = lm.tokenizer.padding_side
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = self_distill(lm, prompts, max_new_tokens=5, seed=7, batch_size=2)
    assert torch.equal(torch.rand(3), expected_next)
    b = self_distill(lm, prompts, max_new_tokens=5, seed=7, batch_size=2)
    assert a == b and len(a) == 3
    assert a[2]["messages"][0] == {"role": "user", "content": "Hi"} and a[2]["messages"][1]["content"] != "old answer"
    assert lm.tokenizer.padding_side == side


def test_mix_rows_is_a_seeded_shuffle_of_both():
    a = [{"messages": [{"role": "user", "content": f"a{i}"}]} for i in range(20)]
    b = [{"messages": [{"role": "user", "content": f"b{i}"}]} for i in range(20)]
    mixed = mix_rows(a, b, seed=3)
    key = lambda row: row["messages"][0]["content"]  # noqa: E731
    assert sorted(map(key, mixed)) == sorted(map(key, a + b))
    assert mixed == mix_rows(a, b, seed=3) and mixed != mix_rows(a, b, seed=4)
    assert mixed != a + b


@pytest.mark.parametrize("autocast, expected", [(False, {torch.float32}), (True, {torch.bfloat16})])
def test_self_distill_autocast_runs_the_products_in_bfloat16(tiny_lm, autocast, expected):
    lm = tiny_lm("llama")
    seen: set = set()
    handles = [
        m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
        for m in lm.model.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    try:
        rows = self_distill(lm, ["Add 2 and 3.", "Spell cat."], max_new_tokens=4, seed=0, autocast=autocast)
    finally:
        for handle in handles:
            handle.remove()
    assert seen == expected and len(rows) == 2
    assert next(lm.model.parameters()).dtype == torch.float32  # the weights themselves are not cast
