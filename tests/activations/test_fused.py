"""The plain torch reference of the fused capture, checked against a Python loop over tokens."""

import subprocess
import sys

import pytest
import torch

from activations.fused import FusedOut, fused_capture, fused_capture_reference, resolve_backend
from tests.repo import ROOT


def naive_capture(hidden_BSD, select_BS, out_dtype, labels_B, n_classes, directions_KD):
    rows, proj = [], []
    d_model = hidden_BSD.shape[-1]
    class_sum = torch.zeros(n_classes, d_model, dtype=torch.float64)
    class_sumsq = torch.zeros(n_classes, d_model, dtype=torch.float64)
    class_count = torch.zeros(n_classes, dtype=torch.int64)
    for b in range(hidden_BSD.shape[0]):
        for s in range(hidden_BSD.shape[1]):
            if not select_BS[b, s]:
                continue
            row = hidden_BSD[b, s]
            rows.append(row.to(out_dtype))
            proj.append([float(row.double() @ direction.double()) for direction in directions_KD])
            label = int(labels_B[b])
            if label >= 0:
                class_sum[label] += row.double()
                class_sumsq[label] += row.double() ** 2
                class_count[label] += 1
    rows_ND = torch.stack(rows) if rows else torch.empty(0, d_model, dtype=out_dtype)
    proj_NK = torch.tensor(proj, dtype=torch.float32).reshape(len(rows), len(directions_KD))
    return FusedOut(rows_ND, class_sum.float(), class_sumsq.float(), class_count, proj_NK)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_matches_python_loop(seed):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(4, 6, 10, generator=gen)
    select = torch.rand(4, 6, generator=gen) > 0.4
    labels = torch.tensor([1, -1, 0, 2])
    directions = torch.randn(3, 10, generator=gen)
    got = fused_capture_reference(hidden, select, torch.bfloat16, labels, 3, directions)
    want = naive_capture(hidden, select, torch.bfloat16, labels, 3, directions)
    for name, g, w in zip(FusedOut._fields, got, want):
        torch.testing.assert_close(g, w, msg=lambda m, name=name: f"{name}: {m}")


def test_reference_rows_are_row_major_selected_tokens():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    select = torch.tensor([[False, True, True], [True, False, False]])
    out = fused_capture_reference(hidden, select, torch.float32)
    assert torch.equal(out.rows, torch.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]))
    assert out.class_sum is None and out.class_count is None and out.proj is None


def test_reference_store_rows_false_keeps_statistics():
    hidden = torch.randn(2, 3, 4)
    select = torch.ones(2, 3, dtype=torch.bool)
    out = fused_capture_reference(hidden, select, torch.float16, torch.tensor([0, 0]), 1, store_rows=False)
    assert out.rows is None
    torch.testing.assert_close(out.class_sum[0], hidden.reshape(-1, 4).sum(0))
    assert out.class_count.tolist() == [6]


def test_auto_backend_is_torch_on_cpu():
    assert resolve_backend("auto", torch.zeros(1)) == "torch"
    with pytest.raises(ValueError, match="unknown backend"):
        fused_capture(torch.zeros(1, 1, 2), torch.ones(1, 1, dtype=torch.bool), torch.float32, backend="cuda")


def test_package_imports_and_runs_without_triton():
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch, activations\n"
        "from activations.fused import fused_capture\n"
        "out = fused_capture(torch.ones(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), torch.float16)\n"
        "assert out.rows.shape == (2, 3)\n"
        "try:\n"
        "    fused_capture(torch.ones(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), torch.float16,\n"
        "                  backend='triton')\n"
        "except ImportError as err:\n"
        "    assert 'pip install' in str(err)\n"
        "else:\n"
        "    raise AssertionError('expected an ImportError with an install hint')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
