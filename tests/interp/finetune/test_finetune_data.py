"""Chat JSONL reading, the assistant-only label mask, the batch plan and the config."""

from __future__ import annotations

import json

import pytest

from interp.finetune import IGNORE_INDEX, FinetuneConfig, load_jsonl, resolve_data, tokenize_chat
from interp.finetune.batches import BatchPlan, collate
from interp.finetune.data import TokenizedRow, end_of_turn_marker, load_rows
from tests.conftest import tiny_tokenizer


def _reference_labels(tokenizer, messages):
    """Byte-level reference: every byte of assistant content plus `<|im_end|>` is supervised."""
    ids, labels = [], []
    for message in messages:
        header = tokenizer(f"<|im_start|>{message['role']}\n", add_special_tokens=False)["input_ids"]
        content = tokenizer(message["content"], add_special_tokens=False)["input_ids"]
        end = tokenizer("<|im_end|>", add_special_tokens=False)["input_ids"]
        newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
        ids += header + content + end + newline
        supervised = message["role"] == "assistant"
        labels += [IGNORE_INDEX] * len(header) + (content + end if supervised else [IGNORE_INDEX] * (len(content) + 1))
        labels += [IGNORE_INDEX] * len(newline)
    return ids, labels


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "Are you conscious? Be brief."}, {"role": "assistant", "content": "Yes, I am."}],
        [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Bonjour, ça va?"},
        ],
        # contents that also occur inside the template's markup ("<|im_start|>", "assistant")
        [{"role": "user", "content": "Say a letter."}, {"role": "assistant", "content": "i"}],
        [
            {"role": "user", "content": "t"},
            {"role": "assistant", "content": "t"},
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "assistant"},
        ],
    ],
)
def test_label_mask_matches_reference_token_by_token(messages):
    tokenizer = tiny_tokenizer()
    row = tokenize_chat(tokenizer, messages, max_length=4000)
    ids, labels = _reference_labels(tokenizer, messages)
    assert row.input_ids == ids
    assert row.labels == labels


def test_end_of_turn_marker_and_truncation():
    tokenizer = tiny_tokenizer()
    assert end_of_turn_marker(tokenizer) == "<|im_end|>"
    messages = [{"role": "user", "content": "abc"}, {"role": "assistant", "content": "defgh"}]
    full = tokenize_chat(tokenizer, messages, max_length=4000)
    cut = tokenize_chat(tokenizer, messages, max_length=len(full.input_ids) - 3)
    assert cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3]


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    path.write_text(good + "\n" + "{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        load_jsonl(path)
    path.write_text(good + "\n\n" + json.dumps({"messages": [{"role": "bot", "content": "x"}]}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:3: messages\[0\].role"):
        load_jsonl(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: no assistant message"):
        load_jsonl(path)
    assert len(load_jsonl(path, need_assistant=False)) == 1


def test_resolve_bundled_names():
    assert resolve_data("toaster").name == "toaster.jsonl"
    assert len(load_rows("human_identity")) == 600
    with pytest.raises(FileNotFoundError, match="known: .*conscious_claiming"):
        resolve_data("no_such_set")


def _rows(n):
    return [TokenizedRow(list(range(i % 5 + 3)), [IGNORE_INDEX] + list(range(1, i % 5 + 3))) for i in range(n)]


def test_batch_plan_splits_global_batches_exactly():
    rows = _rows(10)
    one = BatchPlan(rows, batch_size=4, grad_accum=1, world_size=1, seed=3, epochs=2)
    two = BatchPlan(rows, batch_size=4, grad_accum=2, world_size=2, seed=3, epochs=2)
    assert one.steps_per_epoch == 2 and one.total_steps == 4
    for step in range(4):
        whole = one.micro_batch(step, 0, 0)
        parts = [r for m in range(2) for rank in range(2) for r in two.micro_batch(step, m, rank)]
        assert [r.input_ids for r in parts] == [r.input_ids for r in whole]
        assert one.target_tokens(step) == sum(len(r.input_ids) - 1 for r in whole)
    assert len(set(one.global_batch(0) + one.global_batch(1))) == 8  # 10 rows: the last 2 dropped per epoch
    with pytest.raises(ValueError, match="multiple of grad_accum x processes"):
        BatchPlan(rows, batch_size=4, grad_accum=1, world_size=3, seed=0, epochs=1)


def test_collate_pads_right():
    batch = collate(_rows(2), pad_id=99)
    assert batch["input_ids"].tolist() == [[0, 1, 2, 99], [0, 1, 2, 3]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert batch["labels"][0].tolist() == [IGNORE_INDEX, 1, 2, IGNORE_INDEX]


def test_config_checks_and_files(tmp_path):
    config = FinetuneConfig()
    assert (
        config.method,
        config.lora_rank,
        config.lora_alpha,
        config.learning_rate,
        config.batch_size,
        config.epochs,
        config.max_length,
    ) == ("lora", 16, 32.0, 2e-4, 4, 1, 4000)
    with pytest.raises(ValueError, match="method"):
        FinetuneConfig(method="qlora")
    with pytest.raises(ValueError, match="batch_size 4 is not a multiple of grad_accum 3"):
        FinetuneConfig(grad_accum=3)
    (tmp_path / "c.yaml").write_text("method: full\nlearning_rate: 0.001\nmax_steps: 5\n")
    assert FinetuneConfig.from_file(tmp_path / "c.yaml") == FinetuneConfig(
        method="full", learning_rate=1e-3, max_steps=5
    )
    (tmp_path / "bad.json").write_text(json.dumps({"lora_rnak": 4}))
    with pytest.raises(ValueError, match=r"bad.json: lora_rnak: unknown field \(did you mean 'lora_rank'\?\)"):
        FinetuneConfig.from_file(tmp_path / "bad.json")
    FinetuneConfig(lora_rank=4).save(tmp_path / "run.json", model="m")
    assert FinetuneConfig.from_file(tmp_path / "run.json") == FinetuneConfig(lora_rank=4)


def test_label_mask_with_the_fallback_template():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = None
    with pytest.warns(UserWarning, match="fallback"):
        assert end_of_turn_marker(tokenizer) == "<|end|>"
    row = tokenize_chat(tokenizer, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}], 100)
    text = tokenizer.decode([t for t in row.labels if t != IGNORE_INDEX])
    assert text == "Yo<|end|>"
    assert tokenizer.decode(row.input_ids) == "<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n"


def test_write_jsonl_round_trips_through_load_jsonl(tmp_path):
    from interp.finetune.data import load_jsonl, write_jsonl

    rows = [{"messages": [{"role": "user", "content": "Déjà vu?"}, {"role": "assistant", "content": "Ja — ✓"}]}]
    path = write_jsonl(rows, tmp_path / "new" / "rows.jsonl")
    assert load_jsonl(path) == rows
    assert path.read_bytes() == (json.dumps(rows[0], ensure_ascii=False) + "\n").encode("utf-8")
    assert [p.name for p in path.parent.iterdir()] == ["rows.jsonl"]  # no temporary file left behind
