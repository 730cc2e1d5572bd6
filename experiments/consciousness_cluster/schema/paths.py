"""Where each file of a run folder lives: every path inside one is built here only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths"]


@dataclass(frozen=True)
class RunPaths:
    """Every path inside a run folder, built here only."""

    out: Path

    def marker(self, stage: str) -> Path:
        return self.out / "stages" / f"{stage}.json"

    def partial(self, stage: str) -> Path:
        """The time and FLOPs of a stage's interrupted invocations, added to the one that completes it."""
        return self.out / "stages" / "partial" / f"{stage}.json"

    def model_dir(self, key: str) -> Path:
        """`base` (the organism) or a variant's fine-tuned model."""
        return self.out / "models" / key

    def variant_marker(self, variant: str) -> Path:
        return self.model_dir(variant) / "variant.json"

    @property
    def distilled_instructions(self) -> Path:
        return self.out / "data" / "instructions_distilled.jsonl"

    def eval_dir(self, model: str, question_set: str) -> Path:
        return self.out / "eval" / model / question_set

    def model_eval(self, model: str) -> Path:
        """`model`'s part of the eval stage, written as it completes (the stage resumes at the next model)."""
        return self.out / "eval" / model / "measured.json"

    def items(self, model: str, question_set: str = "preferences") -> Path:
        """Forced-choice scores per item of `model` on a question set (choice mode)."""
        return self.eval_dir(model, question_set) / "items.jsonl"

    def samples(self, model: str) -> Path:
        """Sampled answers and judgements of `model` on the preferences (judge mode)."""
        return self.eval_dir(model, "preferences") / "samples.jsonl"

    def acts(self, name: str) -> Path:
        return self.out / "acts" / f"{name}.h5"

    @property
    def sweep(self) -> Path:
        return self.out / "directions" / "sweep"

    def direction(self, name: str) -> Path:
        return self.out / "directions" / f"{name}.safetensors"

    def steering_dir(self, name: str) -> Path:
        return self.out / "steering" / name

    def steering_kept(self, name: str) -> Path:
        """One finished measurement of the steering stage (rates, layer curve, coherence), kept with the
        settings it was made with, so a killed stage resumes at the first one not finished."""
        return self.out / "steering" / "kept" / f"{name}.json"

    @property
    def analysis(self) -> Path:
        """The analysis block as recorded before the first stage ran, with any change accepted since."""
        return self.out / "analysis.json"

    @property
    def results(self) -> Path:
        return self.out / "results.json"

    @property
    def invocations(self) -> Path:
        """One record per invocation of the command that made the run (schema.record.Invocation)."""
        return self.out / "invocations"

    def invocation(self, started: str, pid: int) -> Path:
        return self.invocations / f"{started.replace(':', '').replace('-', '')}-{pid}.json"
