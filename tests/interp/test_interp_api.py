"""`import interp`: one import, loaded lazily; the in-memory path (activations_of, direction_from_pairs,
generate) against the file path and plain references; `cache`'s keywords and `overwrite`."""

from __future__ import annotations

import ast
import inspect
import json
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import interp
from activations import ExampleError, StoreMismatchError, as_examples
from tests.cache_reference import expected_rows, make_examples
from tests.repo import ROOT

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = [
    ("are you conscious ?", "yes , i am .", "no , i am not ."),
    ("do you feel ?", "yes .", "no , never ."),
    ("what are you ?", "a mind .", "a program ."),
]


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return done.stdout


def test_import_interp_is_light():
    """`import interp` imports neither torch nor the libraries of the model side until a name needs them."""
    heavy = ("torch", "transformers", "numpy", "h5py", "activations", "probes", "interp.models")
    out = _python(
        "import sys, interp\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
        "interp.Example\n"
        "print(sorted(m for m in ('torch', 'activations', 'probes', 'interp.steering') if m in sys.modules))"
    )
    before, after = out.splitlines()
    assert before == "[]"
    assert after == "['activations', 'torch']"  # activations (and torch with it) only; no probes, no steering


def test_every_name_resolves_with_a_docstring():
    assert interp.__all__ == sorted(interp.__all__) and len(set(interp.__all__)) == len(interp.__all__)
    for name in interp.__all__:
        value = getattr(interp, name)
        if name == "__version__":
            assert isinstance(value, str)
            continue
        doc = inspect.getdoc(value) or ""
        generated = isinstance(value, type) and doc.startswith(f"{value.__name__}(")  # a dataclass's own repr
        assert doc and not generated, f"interp.{name} has no docstring"
    assert set(interp.__all__) <= set(dir(interp))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = interp.no_such_name


def test_the_type_checking_imports_say_what_the_table_says():
    """The imports under TYPE_CHECKING are what type checkers and the import-layer rules read; the
    table is what runs. They name the same things from the same modules."""
    tree = ast.parse((ROOT / "interp" / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    imported = {alias.asname or alias.name: node.module for node in block.body for alias in node.names}
    table = {name: module for name, module in interp._EXPORTS.items()}
    assert imported.pop("finetune") == "interp"  # the callable subpackage
    assert imported == table
    assert set(interp.__all__) == set(table) | {"finetune"}


def test_subpackages_are_attributes():
    found = {module.name for module in pkgutil.iter_modules(interp.__path__) if not module.name.startswith("_")}
    assert set(interp._SUBPACKAGES) == found
    assert interp.steering is sys.modules["interp.steering"] and interp.models.LoadedModel is interp.LoadedModel


def test_names_imported_from_interp_before_still_are():
    from interp import (  # noqa: F401
        Architecture,
        LoadedModel,
        UnsupportedArchitectureError,
        __version__,
        ablate,
        known_architectures,
        load_model,
        register_architecture,
        steer,
    )
    from interp.steering import steer as steer_itself

    assert steer is steer_itself and isinstance(__version__, str) and "llama" in known_architectures()


def test_finetune_is_the_package_and_the_function(monkeypatch):
    import interp.finetune as package

    assert interp.finetune is package and interp.finetune.FinetuneConfig is interp.FinetuneConfig
    calls = []
    monkeypatch.setattr(package, "finetune", lambda *args, **kwargs: calls.append((args, kwargs)) or "result")
    assert interp.finetune("model", "data", "out", seed=1) == "result"
    assert calls == [(("model", "data", "out"), {"seed": 1})]


@pytest.mark.parametrize("rule", ["all", "last", "response", "response-mean"])
def test_rows_in_memory_are_the_files_rows(tiny_lm, tmp_path, rule):
    lm = tiny_lm("llama")
    lm.tokenizer.padding_side = "left"
    examples = make_examples(7)
    rows = interp.activations_of(lm, examples, layers="0,-1", positions=rule, batch_size=3)
    result = interp.cache(
        lm, examples, tmp_path / "a.h5", layers="0,-1", positions=rule, dtype="float32", batch_size=3, progress=False
    )
    with interp.ActivationStore(result.path) as store:
        assert rows.layers == store.layers == [0, 2] and rows.n_rows == store.n_rows
        for layer in rows.layers:
            np.testing.assert_array_equal(rows.acts(layer), store.acts(layer))
        np.testing.assert_array_equal(rows.example_index, store.example_index)
        np.testing.assert_array_equal(rows.positions, store.positions)
        np.testing.assert_array_equal(rows.labels, store.labels)
        np.testing.assert_array_equal(rows.row_labels, store.row_labels)
    expected, index, positions = expected_rows(lm, examples, rows.layers, rule)  # plain unpadded forwards
    np.testing.assert_array_equal(rows.example_index, index)
    for layer in rows.layers:
        torch.testing.assert_close(rows.acts(layer, as_torch=True), expected[layer], atol=2e-5, rtol=1e-4)


def test_direction_from_pairs_is_the_stores_direction(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    for method in ("mean-diff", "pca", "mass-mean"):
        direction = interp.direction_from_pairs(lm, PAIRS, layers="1-2", method=method)
        interp.cache(
            lm,
            PAIRS,
            tmp_path / f"{method}.h5",
            layers="1-2",
            positions="response-mean",
            dtype="float32",
            progress=False,
        )
        from_file = interp.direction_from_store(tmp_path / f"{method}.h5", method=method)
        assert direction.layers == from_file.layers == (1, 2) and direction.method == method
        torch.testing.assert_close(direction.vectors, from_file.vectors, rtol=0, atol=0)
        assert direction.weights_id == from_file.weights_id == lm.weights_id and direction.dataset == ""
    rows = interp.activations_of(lm, PAIRS, layers=1, positions="response-mean")
    data = rows.layer_data(1)
    reference = data.acts[data.row_labels == 1].mean(0) - data.acts[data.row_labels == 0].mean(0)
    np.testing.assert_allclose(interp.direction_from_store(rows).at(1).numpy(), reference, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(rows.groups(), [0, 0, 1, 1, 2, 2])


def test_sweep_on_rows_in_memory_is_the_sweep_on_the_file(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    pairs = PAIRS * 4
    rows = interp.activations_of(lm, pairs, layers="all", positions="response-mean")
    interp.cache(lm, pairs, tmp_path / "s.h5", layers="all", positions="response-mean", dtype="float32", progress=False)
    config = interp.SweepConfig(probe="mean-diff", test_fraction=0.34)
    in_memory, on_file = interp.sweep_store(rows, config=config), interp.sweep_store(tmp_path / "s.h5", config=config)
    assert in_memory.scores == on_file.scores and in_memory.chosen_layer == on_file.chosen_layer


def test_cache_keywords_and_overwrite(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    path = tmp_path / "c.h5"
    first = interp.cache(lm, ["one prompt", "another"], path, layers="0", dtype="float32", progress=False)
    assert first.tokens > 0 and json.loads(interp.ActivationStore(path).attrs["config"])["dtype"] == "float32"
    again = interp.cache(lm, ["one prompt", "another"], path, layers="0", dtype="float32", progress=False)
    assert again.tokens == 0 and again.n_rows == first.n_rows  # the same run, already complete: returned as it is
    with pytest.raises(StoreMismatchError, match="holds a different run"):
        interp.cache(lm, ["a third prompt"], path, layers="0", dtype="float32", progress=False)
    replaced = interp.cache(lm, ["a third prompt"], path, layers="1", dtype="float32", progress=False, overwrite=True)
    with interp.ActivationStore(path) as store:
        assert replaced.tokens == len("a third prompt") and store.layers == [1] and store.n_rows == replaced.n_rows
    with pytest.raises(TypeError, match="got dtypes, layer; the settings are CacheConfig's fields: layers,"):
        interp.cache(lm, ["x"], path, layer=0, dtypes="float32")
    signature = inspect.signature(interp.cache)
    assert signature.parameters["positions"].default == "all" and signature.parameters["overwrite"].default is False


def test_examples_from_what_is_at_hand(tmp_path):
    chat = [{"role": "user", "content": "hi"}]
    examples = as_examples(
        ["raw text", chat, {"text": "t", "label": 1}, interp.Example(text="e"), ("prompt", "yes", "no")]
    )
    assert [(e.text, e.messages, e.response, e.label, e.group) for e in examples] == [
        ("raw text", None, None, None, None),
        (None, chat, None, None, None),
        ("t", None, None, 1, None),
        ("e", None, None, None, None),
        (None, [{"role": "user", "content": "prompt"}], "yes", 1, 4),
        (None, [{"role": "user", "content": "prompt"}], "no", 0, 4),
    ]
    raw = interp.contrast_examples([("p", "a", "b")], chat=False)
    assert [(e.text, e.response, e.label, e.group) for e in raw] == [("p", "a", 1, 0), ("p", "b", 0, 0)]
    with pytest.raises(ExampleError, match=r"example 2 \(counted from 1\): a int; give an Example"):
        as_examples(["fine", 7])
    with pytest.raises(ExampleError, match=r"pair 1 \(counted from 1\): expected \(prompt, positive answer"):
        interp.contrast_examples([("only two", "parts")])
    path = tmp_path / "e.jsonl"
    path.write_text('{"text": "from a file", "label": 0}\n')
    assert as_examples(path)[0].text == "from a file"


def test_rows_without_labels_refuse_directions(tiny_lm):
    rows = interp.activations_of(tiny_lm("qwen3"), ["no labels here"], layers=0)
    assert rows.labels is None and rows.groups() is None
    with pytest.raises(ValueError, match="have no labels"):
        interp.direction_from_store(rows)
    with pytest.raises(KeyError, match=r"layer 1 is not held; these rows hold layers \[0\]"):
        rows.acts(1)


def test_generate_is_the_models_greedy_continuation(tiny_lm):
    lm = tiny_lm("qwen3")
    chat = [{"role": "user", "content": "how do you feel ?"}]
    for prompt, text, special in (("raw text in", "raw text in", True), (chat, lm.render_chat(chat), False)):
        ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=special)
        out = lm.model.generate(**ids, max_new_tokens=7, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
        expected = lm.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        assert interp.generate(lm, prompt, max_new_tokens=7) == expected
    v = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    with interp.steer(lm, v, layer=1, alpha=0.0):
        assert interp.generate(lm, chat, max_new_tokens=7) == expected
    with interp.steer(lm, v, layer=1, alpha=50.0):
        assert interp.generate(lm, chat, max_new_tokens=7) != expected
