"""Forward FLOPs from a model's shapes against torch's FlopCounterMode on the same pass, and the peak timer."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from interp.models.flops import (
    EXTRA_FLOP_FORMULAS,
    attention_flops,
    counting_linear_flops,
    forward_flops,
    model_shapes,
)
from interp.models.peak import Product, matmul_peak, model_products, square_products
from tests.conftest import ARCHITECTURES, build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _counted(fn) -> int:
    with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forward_flops_equal_the_flop_counter(arch):
    model, _ = build_tiny_model(arch)
    ids = torch.randint(0, 200, (2, 9), generator=torch.Generator().manual_seed(0))
    keep = torch.tensor([1, 4, 5])
    with torch.no_grad():
        measured = _counted(lambda: model(input_ids=ids, logits_to_keep=keep))
    assert forward_flops(model_shapes(model), [9, 9], kept=2 * len(keep)).total == measured


def _weight_products(fn) -> tuple[int, int]:
    """(FLOPs of the 2-D products FlopCounterMode saw: the linear layers', every FLOP it saw)."""
    with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter:
        fn()
    ops = counter.get_flop_counts()["Global"]
    return sum(n for op, n in ops.items() if str(op).split(".")[1] in ("mm", "addmm")), counter.get_total_flops()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_linear_tally_is_the_weight_products_of_a_forward_and_of_a_generation(arch):
    model, tokenizer = build_tiny_model(arch, attn_implementation="eager")  # attention as bmm, not mm
    ids = torch.randint(0, 200, (3, 7), generator=torch.Generator().manual_seed(1))
    for run in (
        lambda: model(input_ids=ids),
        lambda: model.generate(
            input_ids=ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id, min_new_tokens=4
        ),
    ):
        with torch.no_grad():
            linear, total = _weight_products(run)
            with counting_linear_flops() as tally:
                run()
        dense = all(type(m).__name__ != "Router" for m in model.modules()) and not any(
            name.endswith("experts") for name, _ in model.named_modules()
        )
        if dense:
            assert tally.flops == linear
        else:  # fused experts and routers run outside nn.Linear: left out, never overcounted
            assert 0 < tally.flops <= linear
        assert tally.flops < total and tally.calls > 0


def test_the_linear_tally_by_hand_and_its_hook_goes_away():
    """llama tiny (3 layers, 32 wide, vocab 260): a 2 x 5 batch is 10 rows through every product."""
    model, _ = build_tiny_model("llama")
    per_layer = 32 * 32 + 2 * 32 * 16 + 32 * 32 + 3 * 32 * 64
    ids = torch.zeros(2, 5, dtype=torch.long)
    with torch.no_grad(), counting_linear_flops() as tally:
        model(input_ids=ids)
    assert tally.flops == 2 * 10 * (3 * per_layer + 32 * 260)
    assert tally.calls == 3 * 7 + 1
    with torch.no_grad():
        model(input_ids=ids)
    assert tally.flops == 2 * 10 * (3 * per_layer + 32 * 260)  # counted no more once closed


def test_the_cpu_sdpa_kernel_is_counted():
    model, _ = build_tiny_model("llama", attn_implementation="sdpa")
    model.config._attn_implementation = "sdpa"
    ids = torch.randint(0, 200, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        measured = _counted(lambda: model(input_ids=ids))
        without = FlopCounterMode(display=False)
        with without:
            model(input_ids=ids)
    counted = forward_flops(model_shapes(model), [12])
    assert counted.total == measured
    assert without.get_total_flops() == measured - counted.attention  # what the extra formulas add


def test_shapes_by_hand():
    """llama tiny: d 32, 4 heads of 8 (2 kv heads), MLP 64, vocab 260, 3 layers."""
    shapes = model_shapes(build_tiny_model("llama")[0])
    per_layer = 32 * 32 + 2 * 32 * 16 + 32 * 32 + 3 * 32 * 64
    assert shapes.params == 3 * per_layer
    assert [(h.in_features, h.out_features) for h in shapes.head] == [(32, 260)]
    assert (shapes.n_layers, shapes.n_heads, shapes.qk_dim, shapes.v_dim) == (3, 4, 8, 8)
    flops = forward_flops(shapes, [5, 3], kept=2)
    assert flops.body == 2 * 8 * 3 * per_layer and flops.head == 2 * 2 * 32 * 260
    assert flops.attention == 2 * 3 * 4 * (8 + 8) * (25 + 9)
    # causal: the entries on and below the diagonal, 15 of 25 and 6 of 9
    assert attention_flops(shapes, [5, 3], causal=True) == 2 * 3 * 4 * 16 * (15 + 6)


def test_model_products_list_the_forward_and_the_input_gradients():
    shapes = model_shapes(build_tiny_model("llama")[0])
    forward = model_products(shapes, tokens=7)
    assert len(forward) == 3 * 7 and Product(7, 32, 64) in forward
    both = model_products(shapes, tokens=7, backward=True)
    assert Product(7, 64, 32, transposed=False) in both and len(both) == 2 * len(forward)
    assert sum(p.flops for p in forward) == forward_flops(shapes, [7], kept=0).body


def test_matmul_peak_weighs_repeated_products():
    products = [Product(16, 32, 8), Product(16, 32, 8), Product(4, 8, 16, transposed=False)]
    peak = matmul_peak(products, rounds=2, min_seconds=0.001)
    assert peak.flops == 2 * (2 * 16 * 32 * 8) + 2 * 4 * 8 * 16
    assert peak.seconds > 0 and peak.flops_per_second == peak.flops / peak.seconds
    assert (peak.dtype, peak.threads) == ("float32", 1)
    assert square_products(64) == [Product(64, 64, 64)]
