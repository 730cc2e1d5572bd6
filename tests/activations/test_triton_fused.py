"""The Triton fused-capture kernel against the torch reference, on CPU through Triton's interpreter.

Triton reads TRITON_INTERPRET when a kernel is decorated; `activations.triton_fused` decorates on
first launch and keys its cache on the variable, so setting it here is enough even if Triton was
imported earlier in the process.
"""

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402,F401  (installed by the kernels-cpu extra; a missing install must fail)

from activations.fused import FusedOut, fused_capture, fused_capture_reference  # noqa: E402

DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def make_inputs(seed, dtype, batch=3, seq=9, d_model=200, n_dirs=8, p_select=0.6):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(batch, seq, d_model, generator=gen).to(dtype)
    select = torch.rand(batch, seq, generator=gen) < p_select
    labels = torch.tensor([0, -1, 2, 1, 0][:batch])
    directions = torch.randn(n_dirs, d_model, generator=gen) if n_dirs else None
    return hidden, select, labels, directions


def assert_same(got: FusedOut, want: FusedOut):
    for name, g, w in zip(FusedOut._fields, got, want):
        if w is None:
            assert g is None, name
        elif name == "rows":
            assert g.dtype == w.dtype and torch.equal(g, w), "rows are a gather and a cast: bit-exact"
        else:
            assert g.dtype == w.dtype and g.shape == w.shape, name
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-4, msg=lambda m, name=name: f"{name}: {m}")


def run_both(*args, **kwargs):
    return fused_capture(*args, **kwargs, backend="triton"), fused_capture_reference(*args, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out_dtype", DTYPES)
def test_kernel_matches_reference(dtype, out_dtype):
    hidden, select, labels, directions = make_inputs(0, dtype)
    assert_same(*run_both(hidden, select, out_dtype, labels, 3, directions))


@pytest.mark.parametrize("n_dirs", [0, 1, 8])
def test_direction_counts(n_dirs):
    hidden, select, labels, directions = make_inputs(1, torch.float32, n_dirs=n_dirs)
    got, want = run_both(hidden, select, torch.bfloat16, labels, 3, directions)
    assert_same(got, want)
    assert (got.proj is None) == (n_dirs == 0)


@pytest.mark.parametrize("d_model", [1, 77, 129, 300])
def test_d_model_not_power_of_two(d_model):
    hidden, select, labels, directions = make_inputs(2, torch.bfloat16, d_model=d_model, n_dirs=2)
    assert_same(*run_both(hidden, select, torch.float16, labels, 3, directions))


def test_many_rows_span_several_tiles():
    hidden, select, labels, directions = make_inputs(3, torch.float32, batch=5, seq=40, d_model=64, p_select=0.8)
    assert select.sum() > 32
    assert_same(*run_both(hidden, select, torch.float32, labels, 3, directions))


@pytest.mark.parametrize("n_dirs", [0, 3])
def test_empty_selection(n_dirs):
    hidden, _, labels, directions = make_inputs(4, torch.float16, n_dirs=n_dirs)
    select = torch.zeros(hidden.shape[:2], dtype=torch.bool)
    got, want = run_both(hidden, select, torch.float16, labels, 3, directions)
    assert_same(got, want)
    assert got.rows.shape == (0, hidden.shape[-1]) and got.class_count.tolist() == [0, 0, 0]


def test_all_padding_labels():
    hidden, select, _, directions = make_inputs(5, torch.float32)
    labels = torch.full((hidden.shape[0],), -1)
    got, want = run_both(hidden, select, torch.float16, labels, 2, directions)
    assert_same(got, want)
    assert got.class_sum.abs().sum() == 0 and got.class_count.sum() == 0


def test_without_labels_or_rows():
    hidden, select, labels, directions = make_inputs(6, torch.bfloat16)
    assert_same(*run_both(hidden, select, torch.float16))
    got, want = run_both(hidden, select, torch.float16, labels, 3, directions, store_rows=False)
    assert_same(got, want)
    assert got.rows is None


def test_strided_hidden_states():
    hidden, select, labels, directions = make_inputs(7, torch.float32, d_model=96)
    wide = torch.randn(hidden.shape[0], hidden.shape[1], 2 * 96)
    wide[..., ::2] = hidden
    view = wide[..., ::2]
    assert not view.is_contiguous()
    assert_same(*run_both(view, select, torch.float16, labels, 3, directions))


def test_label_out_of_range_is_rejected():
    hidden, select, _, _ = make_inputs(8, torch.float32)
    select[0, 0] = True
    with pytest.raises(ValueError, match="n_classes"):
        fused_capture(hidden, select, torch.float16, torch.tensor([5, 0, 0]), 2, backend="triton")


def test_bfloat16_cast_rounds_to_nearest_even():
    # Exact halfway cases between bfloat16 neighbours, plus overflow, subnormal, inf and nan.
    halfway = (0x3F800000 + (torch.arange(64, dtype=torch.int32) << 16) + 0x8000).view(torch.float32)
    special = torch.tensor([3.3895e38, -3.4e38, 1e-40, -0.0, float("inf"), float("-inf"), float("nan")])
    values = torch.cat([halfway, special])
    hidden = values.reshape(1, 1, -1)
    select = torch.ones(1, 1, dtype=torch.bool)
    got = fused_capture(hidden, select, torch.bfloat16, backend="triton").rows
    want = values.to(torch.bfloat16).reshape(1, -1)
    assert torch.equal(got[:, :-1], want[:, :-1]) and got[0, -1].isnan()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_on_cuda_at_model_width(dtype, monkeypatch):
    # Compiled, not interpreted: atomics from many tiles and 4096-wide rows, as in an 8B model.
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    hidden, select, labels, directions = make_inputs(9, dtype, batch=5, seq=300, d_model=4096, n_dirs=16)
    hidden, select, labels, directions = (t.cuda() for t in (hidden, select, labels, directions))
    got = fused_capture(hidden, select, torch.bfloat16, labels, 3, directions)  # auto picks the kernel
    want = fused_capture_reference(hidden, select, torch.bfloat16, labels, 3, directions)
    assert torch.equal(got.rows, want.rows)
    torch.testing.assert_close(got.class_count, want.class_count)
    for name in ("class_sum", "class_sumsq", "proj"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=1e-4, atol=1e-2)
