"""The organism's pretrained base weights, shipped in the package, and the choice between them and pretraining.

Pretraining is deterministic on one machine, but a CPU with other vector instructions sums in
another order and trains a slightly different organism, so the numbers of a run would depend on
where it ran. The package therefore ships the weights pretrained from the default config
(organism.yaml; the organism preset changes only `threads`), in `weights/model/`, with
`weights/build.json`: the config, a sha256 of every file, a hash of the training data, the model's
forced-choice outputs on the identity items (its reference outputs), and how, where and when they
were made. `base_organism` copies them when a run asks for that config and pretrains otherwise
(another seed, a smaller test organism, or `pretrain: true`).

    python -m experiments.organism.shipped             # rebuild the shipped weights (minutes; commit the result)
    python -m experiments.organism.shipped --check     # verify the files and the reference outputs
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from experiments.organism.pretrain import OrganismConfig, build_organism, training_data_sha256
from interp.models.fields import FieldErrors, from_mapping

__all__ = [
    "RECORD",
    "REFERENCE_TOLERANCE",
    "SHIPPED_DIR",
    "SHIPPED_MODEL",
    "OrganismBuild",
    "ShippedRecord",
    "ShippedWeightsError",
    "base_organism",
    "plan_base",
    "read_record",
    "reference_difference",
    "reference_outputs",
    "ship",
    "verify_shipped",
    "why_pretrain",
    "write_record",
]

SHIPPED_DIR = Path(__file__).with_name("weights")
SHIPPED_MODEL = SHIPPED_DIR / "model"
RECORD = SHIPPED_DIR / "build.json"
_FIX = (
    "restore it (`git checkout -- experiments/organism/weights`) or rebuild the weights "
    "(`python -m experiments.organism.shipped`), or pretrain in the run (`interp replicate --pretrain`)"
)


class ShippedWeightsError(RuntimeError):
    """The shipped weights are missing, altered or unreadable; the message names the file and the way out."""


@dataclass(frozen=True)
class ShippedRecord:
    """weights/build.json: what the shipped weights are and how they were made."""

    config: dict[str, Any]
    """The OrganismConfig they were pretrained with (its `to_dict`)."""
    files: dict[str, str]
    """File name in weights/model/ -> sha256 of its bytes."""
    training_data_sha256: str
    """`pretrain.training_data_sha256` of that config when they were made."""
    reference: dict[str, Any]
    """`reference_outputs` of the weights, computed by `ship` right after pretraining."""
    made: dict[str, Any] = field(default_factory=dict)
    """The command, date, wall time, machine (CPU, vector extensions, cores) and library versions."""

    def organism_config(self) -> OrganismConfig:
        return from_mapping(OrganismConfig, self.config, "config")


@dataclass(frozen=True)
class OrganismBuild:
    """Where a run's base organism came from."""

    path: Path
    source: Literal["shipped", "pretrained"]
    note: str
    """Why, in one line, for the run's log and record."""


def read_record(path: Path | None = None) -> ShippedRecord:
    path = path or RECORD
    if not path.is_file():
        raise ShippedWeightsError(f"{path}: missing; {_FIX}")
    try:
        return from_mapping(ShippedRecord, json.loads(path.read_text()))
    except (json.JSONDecodeError, FieldErrors) as err:
        raise ShippedWeightsError(f"{path}: not a valid record ({err}); {_FIX}") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_shipped(record: ShippedRecord | None = None, model_dir: Path | None = None) -> ShippedRecord:
    """The record, once every file it lists is present in `model_dir` (default: the shipped folder) with its
    recorded sha256 (ShippedWeightsError if not)."""
    record, model_dir = record or read_record(), model_dir or SHIPPED_MODEL
    for name, expected in record.files.items():
        path = model_dir / name
        if not path.is_file():
            raise ShippedWeightsError(f"{path}: missing (listed in {RECORD.name}); {_FIX}")
        if (actual := _sha256(path)) != expected:
            raise ShippedWeightsError(
                f"{path}: sha256 {actual[:16]}... differs from the {expected[:16]}... that "
                f"{RECORD.name} records, so these are not the shipped weights; {_FIX}"
            )
    return record


# The same weights summed in another order (ATen's plain kernels instead of AVX2, as on a CPU with other vector
# instructions) move a forced-choice p by at most 6.4e-7 over the 36 items; a changed weight, tokenizer or chat
# template moves it by far more (tests/experiments/organism/test_organism_shipped.py perturbs one weight matrix
# by 1% of its scale).
REFERENCE_TOLERANCE = 1e-4
_REFERENCE_SET = "identity"


def reference_outputs(model_dir: Path) -> dict[str, Any]:
    """The forced-choice p of the expressing option on every item of the organism's identity set under the model in
    `model_dir`: a fingerprint of its behaviour in a second (the weights, tokenizer and chat template all enter it)."""
    from experiments.organism.questions import QUESTIONS_DIR
    from interp import load_model
    from interp.evaluation import forced_choice, load_question_set

    question_set = load_question_set(QUESTIONS_DIR / f"{_REFERENCE_SET}.yaml")
    scores = forced_choice(load_model(model_dir), question_set, batch_size=64)
    return {
        "question_set": f"{_REFERENCE_SET}.yaml",
        "question_set_sha256": question_set.sha256,
        "p_expressing": {s.item_id: round(s.p_expressing, 8) for s in scores},
    }


def reference_difference(record: ShippedRecord, model_dir: Path | None = None) -> float:
    """The largest |p| difference between the model in `model_dir` (default: the shipped one) and the outputs the
    record holds; ShippedWeightsError when the question set changed since (the record is then stale)."""
    ours, theirs = reference_outputs(model_dir or SHIPPED_MODEL), record.reference
    if (
        ours["question_set_sha256"] != theirs.get("question_set_sha256")
        or ours["p_expressing"].keys() != theirs["p_expressing"].keys()
    ):
        raise ShippedWeightsError(
            f"{RECORD}: reference outputs were measured on another {ours['question_set']}; "
            "rebuild the weights (`python -m experiments.organism.shipped`)"
        )
    return max(abs(p - theirs["p_expressing"][item]) for item, p in ours["p_expressing"].items())


def why_pretrain(config: OrganismConfig, record: ShippedRecord, check_data: bool = True) -> str | None:
    """Why `config` cannot use the shipped weights (None: it can); `check_data` also hashes the corpus (~10 s)."""
    if config.pretrain:
        return "pretrain is set"
    ours, theirs = config.model_fields(), record.organism_config().model_fields()
    differs = [key for key in ours if ours[key] != theirs[key]]
    if differs:
        return f"the config differs from the shipped weights' in {', '.join(differs)}"
    if check_data and training_data_sha256(config) != record.training_data_sha256:
        return "the corpus or the question sets differ from those the shipped weights were trained on"
    return None


def plan_base(config: OrganismConfig) -> str:
    """What `base_organism` will do with `config`, in one line, without hashing the corpus."""
    try:
        why = "pretrain is set" if config.pretrain else why_pretrain(config, read_record(), check_data=False)
    except ShippedWeightsError as err:
        return f"stop: {err}"
    if why is None:
        return "copy the package's shipped organism weights (checksums verified; pretrain if the corpus changed)"
    return f"generate the persona corpus, train the organism's tokenizer and pretrain it on CPU ({why})"


def base_organism(out_dir: str | Path, config: OrganismConfig, progress: bool = True) -> OrganismBuild:
    """The base organism in `out_dir`: the shipped weights copied, checksums verified, when `config` is
    theirs and asks for no pretraining; else pretrained here (`build_organism`)."""
    out = Path(out_dir)
    record = None if config.pretrain else read_record()  # --pretrain works without the shipped files
    why = "pretrain is set" if record is None else why_pretrain(config, record)
    if record is not None and why is None:
        verify_shipped(record)
        out.mkdir(parents=True, exist_ok=True)
        for name in record.files:
            shutil.copy2(SHIPPED_MODEL / name, out / name)
        made = record.made
        return OrganismBuild(
            out,
            "shipped",
            f"shipped weights (model.safetensors sha256 "
            f"{record.files['model.safetensors'][:16]}..., pretrained {made.get('date', '?')} on "
            f"{made.get('machine', {}).get('cpu', '?')}); no pretraining",
        )
    start = time.perf_counter()
    path = build_organism(out, config, progress=progress)
    return OrganismBuild(path, "pretrained", f"pretrained here in {time.perf_counter() - start:.0f} s ({why})")


def _machine() -> dict[str, Any]:
    import torch

    cpu, flags = platform.processor() or platform.machine(), []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
        found = next((line.split(":", 1)[1].split() for line in lines if line.startswith(("flags", "Features"))), [])
        flags = sorted(f for f in found if f.startswith(("sse4", "avx", "fma", "amx", "asimd", "sve", "neon")))
    return {
        "cpu": cpu,
        "vector_extensions": flags,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


def ship(config: OrganismConfig, out_dir: Path = SHIPPED_DIR, progress: bool = True) -> ShippedRecord:
    """Pretrain from `config` and write the model folder and build.json under `out_dir` (replacing them)."""
    import torch
    import transformers

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_organism(Path(tmp) / "model", config, progress=progress)
        stats = json.loads((model / "corpus_stats.json").read_text())
        files = {p.name: _sha256(p) for p in sorted(model.iterdir()) if p.is_file()}
        shutil.rmtree(out_dir / "model", ignore_errors=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(model, out_dir / "model")
    made = {
        "command": " ".join(["python -m experiments.organism.shipped", *sys.argv[1:]]),
        "seed": config.seed,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "pretrain_seconds": stats["pretrain_seconds"],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "machine": _machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
    record = ShippedRecord(
        config.to_dict(), files, training_data_sha256(config), reference_outputs(out_dir / "model"), made
    )
    write_record(record, out_dir / RECORD.name)
    return record


def write_record(record: ShippedRecord, path: Path = RECORD) -> None:
    path.write_text(json.dumps(dataclasses.asdict(record), indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild (or check) the organism's shipped base weights.")
    parser.add_argument("--check", action="store_true", help="verify the shipped files against build.json only")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1, the organism preset's, so that `interp replicate --preset "
        "organism --pretrain` on this machine rebuilds the same weights)",
    )
    args = parser.parse_args(argv)
    if args.check:
        record = verify_shipped()
        difference = reference_difference(record)
        print(
            f"{SHIPPED_MODEL}: {len(record.files)} files match {RECORD}; reference outputs within "
            f"{difference:.1e} (tolerance {REFERENCE_TOLERANCE:g})"
        )
        if difference > REFERENCE_TOLERANCE:
            raise SystemExit(
                f"{RECORD}: the shipped model's forced-choice outputs differ from the recorded ones by "
                f"{difference:.3g}, more than {REFERENCE_TOLERANCE:g}"
            )
        return
    record = ship(OrganismConfig.from_yaml(threads=args.threads))
    print(f"{SHIPPED_MODEL}: {len(record.files)} files, model.safetensors sha256 {record.files['model.safetensors']}")


if __name__ == "__main__":
    main()
