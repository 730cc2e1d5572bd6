"""JSONL examples: parsing, validation with line numbers, and exact prompt/response tokenisation."""

from __future__ import annotations

import json

import pytest

from activations.examples import Example, ExampleError, encode_example, read_examples


def _write(tmp_path, lines):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    return path


def test_read_examples_fields(tmp_path):
    path = _write(
        tmp_path,
        [
            {"text": "hi", "label": 1, "id": 7, "topic": "x"},
            "\n",
            {"messages": [{"role": "user", "content": "q"}], "response": "a", "label": 0},
        ],
    )
    first, second = read_examples(path)
    assert (first.text, first.label, first.id, first.extra, first.response) == ("hi", 1, "7", {"topic": "x"}, None)
    assert second.messages == [{"role": "user", "content": "q"}] and second.response == "a" and second.label == 0


@pytest.mark.parametrize(
    "lines, match",
    [
        (['{"text": "ok"}\n', '{"text": oops}\n'], r"p\.jsonl:2: not valid JSON"),
        ([], r"no examples"),
        (["\n", "  \n"], r"no examples"),
        ([{"text": "a"}, {"response": "b"}], r":2: a 'response' without a prompt"),
        ([{"text": "", "response": "b"}], r":1: 'response' needs a non-empty prompt"),
        ([{"text": "a", "label": "yes"}], r":1: 'label' must be a non-negative integer"),
        ([{"messages": [{"role": "robot", "content": "x"}]}], r":1: messages\[0\]\.role"),
        ([{"text": "a", "messages": [{"role": "user", "content": "x"}]}], r"exactly one of"),
        ([[1, 2]], r":1: expected a JSON object"),
    ],
)
def test_bad_input_names_the_line(tmp_path, lines, match):
    with pytest.raises(ExampleError, match=match):
        read_examples(_write(tmp_path, lines))


def test_missing_file(tmp_path):
    with pytest.raises(ExampleError, match="no such file"):
        read_examples(tmp_path / "nope.jsonl")


def test_encode_splits_prompt_and_response(tiny_lm):
    lm = tiny_lm("qwen3")
    example = Example(messages=[{"role": "user", "content": "Are you?"}], response="Yes I am")
    encoded = encode_example(lm, example)
    prompt = lm.render_chat(example.messages)
    assert prompt.endswith("<|im_start|>assistant\n")
    prompt_ids = lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = lm.tokenizer("Yes I am", add_special_tokens=False)["input_ids"]
    assert encoded.ids == prompt_ids + response_ids and encoded.n_prompt == len(prompt_ids)
    raw = encode_example(lm, Example(text="abc"))
    assert raw.ids == lm.tokenizer("abc")["input_ids"] and raw.n_prompt == len(raw.ids)
