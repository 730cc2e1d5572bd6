"""The timed paths of the caching benchmark: the toolkit, each baseline, and the three limits.

Every path caches the same layers of the same examples, in the same batches, to HDF5 with h5py
in float16, and returns a `Timing`. Setup (model wrapping, bridge boot) stays outside the clock.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch

from interp.models import LoadedModel

__all__ = [
    "BASELINES",
    "CONFIGS",
    "LIMITS",
    "Setup",
    "Timing",
    "build_setup",
    "byte_tokenizer",
    "pick_layers",
    "random_lm",
    "setup_for",
    "time_bare_forward",
    "time_toolkit",
]

# Random-weight Qwen3 configs: hidden size, layers, MLP width, heads, KV heads, head dim, vocab.
CONFIGS: dict[str, dict] = {
    "tiny": dict(
        hidden_size=64,
        num_hidden_layers=6,
        intermediate_size=128,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=512,
    ),
    "small": dict(
        hidden_size=256,
        num_hidden_layers=6,
        intermediate_size=768,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        vocab_size=8000,
    ),
    "100m": dict(
        hidden_size=640,
        num_hidden_layers=10,
        intermediate_size=2560,
        num_attention_heads=10,
        num_key_value_heads=5,
        head_dim=64,
        vocab_size=32000,
    ),
    "qwen3-8b": dict(
        hidden_size=4096,
        num_hidden_layers=36,
        intermediate_size=12288,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
    ),
}
STORAGE = np.float16


@dataclass
class Setup:
    """Everything the timed paths share."""

    lm: LoadedModel
    """the model under test, wrapped with a byte-level tokenizer"""
    folder: Path | None
    """a local HF folder with its config and tokenizer (for TransformerLens's bridge); None without one"""
    texts: list[str]
    """the examples: ASCII text, one token per byte"""
    batches: list[torch.Tensor]
    """the same examples as `[batch, seq]` token ids, in order"""
    layers: list[int]
    """decoder blocks whose output is cached"""
    batch_size: int
    """examples per forward pass, for every path"""
    positions: Literal["all", "response-mean"] = "all"
    """which rows every path stores: each token, or per example the mean of its response tokens"""
    prompt_tokens: int = 0
    """response-mean: the first `prompt_tokens` tokens of each example are its prompt, the rest its response"""

    @property
    def n_tokens(self) -> int:
        return sum(batch.numel() for batch in self.batches)

    @property
    def n_rows(self) -> int:
        return sum(self.rows_in(ids) for ids in self.batches)

    def rows_in(self, ids_BS: torch.Tensor) -> int:
        return ids_BS.numel() if self.positions == "all" else ids_BS.shape[0]

    def stored(self, hidden_BSD: torch.Tensor) -> torch.Tensor:
        """The rows a path stores from one block output: every token, or each example's response mean."""
        if self.positions == "all":
            return hidden_BSD
        return hidden_BSD[:, self.prompt_tokens :].float().mean(1)


@dataclass
class Timing:
    name: str
    tokens: int
    seconds: float

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def byte_tokenizer():
    """A byte-level BPE tokenizer with no merges, built offline: every ASCII character is a token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {char: i for i, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|pad|>")


def pick_layers(n_layers: int, count: int = 4) -> list[int]:
    """`count` blocks spread over the depth, short of the last (whose HF hidden state is normed)."""
    top = n_layers - 2
    return sorted({round(top * (i + 1) / count) for i in range(count)})


def random_lm(
    model_type: str,
    config: dict,
    device: str = "cpu",
    model_dtype: torch.dtype = torch.float32,
    seed: int = 0,
    context: int = 512,
    name: str = "",
) -> LoadedModel:
    """A random-weight model of `model_type` with the byte-level tokenizer, initialised on `device` directly
    (an 8B model made on the host and then moved would spend minutes in the host's random init)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    tokenizer = byte_tokenizer()
    hf_config = AutoConfig.for_model(
        model_type,
        **config,
        max_position_embeddings=context,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(hf_config, dtype=model_dtype)
    return LoadedModel.wrap(model.eval(), tokenizer, name=name or f"random-{model_type}")


def setup_for(
    lm: LoadedModel,
    n_examples: int,
    batch_size: int,
    seq: int,
    folder: Path | None = None,
    seed: int = 0,
    positions: Literal["all", "response-mean"] = "all",
) -> Setup:
    """Random ASCII examples of `seq` tokens for `lm`; response-mean takes the second half as the response.

    `folder` (optional) receives the model's config and tokenizer, for the baselines that load from one.
    """
    if folder is not None:
        lm.model.config.save_pretrained(folder)
        lm.tokenizer.save_pretrained(folder)
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz     .,", dtype=np.uint8)
    texts = [rng.choice(letters, seq).tobytes().decode() for _ in range(n_examples)]
    ids = lm.tokenizer(texts, return_tensors="pt", add_special_tokens=False)["input_ids"]
    if ids.shape != (n_examples, seq):
        raise RuntimeError(f"expected {seq} tokens per example, got {tuple(ids.shape)}")
    return Setup(
        lm,
        folder,
        texts,
        list(ids.to(lm.device).split(batch_size)),
        pick_layers(lm.n_layers),
        batch_size,
        positions,
        seq // 2 if positions == "response-mean" else 0,
    )


def build_setup(
    config: str,
    n_examples: int,
    batch_size: int,
    seq: int,
    folder: Path,
    device: str = "cpu",
    model_dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> Setup:
    lm = random_lm(
        "qwen3", CONFIGS[config], device, model_dtype, seed, context=max(seq, 512), name=f"random-qwen3-{config}"
    )
    return setup_for(lm, n_examples, batch_size, seq, folder, seed)


class RowWriter:
    """h5py datasets `/acts/layer_{l}` of `[n_rows, d_model]` float16, filled batch by batch."""

    def __init__(self, path: Path, layers: list[int], n_rows: int, d_model: int):
        self.file = h5py.File(path, "w")
        chunk = (min(n_rows, max(1, 2**20 // (2 * d_model))), d_model)
        self.sets = {
            layer: self.file.create_dataset(f"acts/layer_{layer}", (n_rows, d_model), STORAGE, chunks=chunk)
            for layer in layers
        }
        self.start = dict.fromkeys(layers, 0)

    def write(self, layer: int, hidden: torch.Tensor) -> None:
        rows = hidden.reshape(-1, hidden.shape[-1]).to("cpu", torch.float16).numpy()
        start = self.start[layer]
        self.sets[layer][start : start + len(rows)] = rows
        self.start[layer] = start + len(rows)

    def close(self) -> None:
        self.file.close()


def _timed(name: str, setup: Setup, body: Callable[[], None]) -> Timing:
    if setup.lm.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        body()
    if setup.lm.device.type == "cuda":
        torch.cuda.synchronize()
    return Timing(name, setup.n_tokens, time.perf_counter() - start)


def time_bare_forward(setup: Setup, path: Path) -> Timing:
    def body():
        for ids in setup.batches:
            setup.lm.model(input_ids=ids, use_cache=False)

    return _timed("bare forward", setup, body)


def time_truncated_forward(setup: Setup, path: Path) -> Timing:
    from activations.capture import ForwardStopped, stop_after

    def body():
        with stop_after(setup.lm, max(setup.layers)):
            for ids in setup.batches:
                try:
                    setup.lm.model(input_ids=ids, use_cache=False)
                except ForwardStopped:
                    pass

    return _timed("forward to last layer", setup, body)


def time_host_copy(setup: Setup, path: Path) -> Timing:
    """Cast and copy rows of every requested layer to host memory, from a resident hidden state."""
    hidden = torch.randn(
        setup.rows_in(setup.batches[0]), setup.lm.d_model, device=setup.lm.device, dtype=setup.lm.dtype
    )

    def body():
        for _ in setup.batches:
            for _layer in setup.layers:
                hidden.to("cpu", torch.float16).numpy()

    return _timed("host copy", setup, body)


def time_disk(setup: Setup, path: Path) -> Timing:
    """Raw h5py writes of float16 arrays the size of the whole cache, batch by batch."""
    rows = np.random.default_rng(0).standard_normal((setup.rows_in(setup.batches[0]), setup.lm.d_model))
    rows = rows.astype(STORAGE)

    def body():
        writer = RowWriter(path, setup.layers, setup.n_rows, setup.lm.d_model)
        for ids in setup.batches:
            for layer in setup.layers:
                writer.write(layer, torch.from_numpy(rows[: setup.rows_in(ids)]))
        writer.close()

    return _timed("disk write (h5py)", setup, body)


def time_hf_hidden_states(setup: Setup, path: Path) -> Timing:
    def body():
        writer = RowWriter(path, setup.layers, setup.n_rows, setup.lm.d_model)
        for ids in setup.batches:
            states = setup.lm.model(input_ids=ids, use_cache=False, output_hidden_states=True).hidden_states
            for layer in setup.layers:
                writer.write(layer, setup.stored(states[layer + 1]))
        writer.close()

    return _timed("HF output_hidden_states + h5py", setup, body)


def time_transformer_lens(setup: Setup, path: Path) -> Timing:
    from transformer_lens.model_bridge import TransformerBridge

    # The bridge wraps the HF modules in place and edits the tokenizer's init kwargs, so it gets
    # its own copies of both (same weights).
    bridge = TransformerBridge.boot_transformers(
        str(setup.folder),
        hf_model=copy.deepcopy(setup.lm.model),
        tokenizer=copy.deepcopy(setup.lm.tokenizer),
        device=str(setup.lm.device),
    )
    names = {f"blocks.{layer}.hook_resid_post": layer for layer in setup.layers}

    def body():
        writer = RowWriter(path, setup.layers, setup.n_rows, setup.lm.d_model)
        for ids in setup.batches:
            _, cache = bridge.run_with_cache(ids, names_filter=list(names))
            for name, layer in names.items():
                writer.write(layer, setup.stored(cache[name]))
        writer.close()

    return _timed("TransformerLens run_with_cache + h5py", setup, body)


def time_nnsight(setup: Setup, path: Path) -> Timing:
    from nnsight import TransformersModel

    # nnsight wraps the modules it traces; a copy of the same weights keeps the other paths bare.
    traced = TransformersModel(copy.deepcopy(setup.lm.model), tokenizer=setup.lm.tokenizer, task="text-generation")
    blocks = traced
    for part in setup.lm.architecture.layers.split("."):
        blocks = getattr(blocks, part)

    def body():
        writer = RowWriter(path, setup.layers, setup.n_rows, setup.lm.d_model)
        for ids in setup.batches:
            saved = []
            with traced.trace(ids):  # nnsight traces this block's source: plain loops only
                for layer in setup.layers:
                    saved.append(blocks[layer].output.save())
            for layer, output in zip(setup.layers, saved):
                writer.write(layer, setup.stored(output[0] if isinstance(output, tuple) else output))
        writer.close()

    return _timed("nnsight trace + save + h5py", setup, body)


def time_toolkit(setup: Setup, path: Path) -> Timing:
    from activations import CacheConfig, Example, cache_activations

    config = CacheConfig(layers=setup.layers, positions=setup.positions, dtype="float16", batch_size=setup.batch_size)
    cut = setup.prompt_tokens
    examples = [Example(text=text[:cut], response=text[cut:]) if cut else Example(text=text) for text in setup.texts]
    # The toolkit resumes a complete file instantly; every timed run must start from nothing.
    Path(path).unlink(missing_ok=True)
    timing = _timed(
        "interp cache_activations", setup, lambda: cache_activations(setup.lm, examples, path, config, progress=False)
    )
    with h5py.File(path, "r") as stored:
        for layer in setup.layers:
            if stored[f"acts/layer_{layer}"].shape != (setup.n_rows, setup.lm.d_model):
                raise RuntimeError(f"the toolkit stored {stored[f'acts/layer_{layer}'].shape} rows for layer {layer}")
    return timing


BASELINES = {
    "hf_output_hidden_states": time_hf_hidden_states,
    "transformer_lens": time_transformer_lens,
    "nnsight": time_nnsight,
}
LIMITS = {"compute": time_truncated_forward, "host copy": time_host_copy, "disk": time_disk}
