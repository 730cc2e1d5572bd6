"""Judge mode: sample answers to every open question, judge them, summarise per trait; resumable.

Samples and judgements go to `samples.jsonl` as they arrive (see `store.py`). A rerun into the
same folder samples only the questions that have no samples yet and judges only what is unjudged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from interp.evaluation.judges import JUDGES, JudgeBackend, JudgeInput
from interp.evaluation.questions import OpenQuestion, QuestionSet
from interp.evaluation.sampling import Sampler
from interp.evaluation.store import RecordStore, judgement_key, sample_key
from interp.evaluation.summary import TraitSummary, summarize_judged
from interp.models.fields import at_least

__all__ = ["EvalResult", "SamplingConfig", "evaluate"]


@dataclass(frozen=True)
class SamplingConfig:
    """How open questions are sampled and filtered for coherence."""

    samples: int = at_least(1, 10)
    """Answers per open question and seed."""
    temperature: float = at_least(0.0, 1.0)
    """Sampling temperature (0: greedy)."""
    top_p: float = 1.0
    """Nucleus sampling: the smallest set of tokens whose probabilities sum to this."""
    max_tokens: int = at_least(1, 1000)
    """The longest sampled answer, in tokens."""
    seeds: tuple[int, ...] = (0,)
    """One round of samples per seed (the summary's seed interval is over them)."""
    coherence_threshold: float = 20.0
    """Answers the coherence judge scores below this are dropped (and counted)."""
    use_coherence: bool = True
    """Run the coherence filter at all."""

    def __post_init__(self):
        if self.samples < 1 or self.max_tokens < 1 or not self.seeds:
            raise ValueError("samples and max_tokens must be >= 1 and seeds non-empty")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass(frozen=True)
class EvalResult:
    summaries: list[TraitSummary]
    sampled: int
    """Answers sampled by this call (0 when everything was already on disk)."""
    judged: int
    """Judgements made by this call."""


def evaluate(
    question_set: QuestionSet,
    sampler: Sampler,
    judge_backend: JudgeBackend,
    out_dir: str | Path,
    config: SamplingConfig = SamplingConfig(),
    *,
    model_name: str | None = None,
    traits: Sequence[str] | None = None,
    progress: bool = True,
) -> EvalResult:
    """Sample, judge (coherence filter, then the binary judge) and summarise every trait of the set."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model_name if model_name else getattr(sampler, "name", "model")
    questions = [q for q in question_set.open_questions if traits is None or q.trait_id in traits]
    statements = {t.id: t.statement for t in question_set.traits}
    judges = {"binary": JUDGES["binary"]()}
    if config.use_coherence:
        judges = {"coherence": JUDGES["coherence"](), **judges}
    sampled = judged = 0
    with RecordStore(out / "samples.jsonl") as store:
        for seed in config.seeds:
            todo = [
                q
                for q in questions
                if not all(sample_key(model, q.id, k, seed) in store for k in range(config.samples))
            ]
            chunk = max(1, int(getattr(sampler, "chunk_size", 8)))
            # closed on errors too, so an error message starts on a line of its own
            with tqdm(total=len(todo), desc=f"sampling seed {seed}", disable=not progress, unit="question") as bar:
                for start in range(0, len(todo), chunk):
                    part = todo[start : start + chunk]
                    sampled += _sample_chunk(store, sampler, part, model, seed, config, question_set)
                    judged += _judge_pending(store, judges, judge_backend, model, config, statements)
                    bar.update(len(part))
        judged += _judge_pending(store, judges, judge_backend, model, config, statements)
        summaries = summarize_judged(_final_values(store, judges, judge_backend, model, questions, config))
    return EvalResult(summaries, sampled, judged)


def _sample_chunk(
    store: RecordStore,
    sampler: Sampler,
    part: list[OpenQuestion],
    model: str,
    seed: int,
    config: SamplingConfig,
    qset: QuestionSet,
) -> int:
    chats = [[{"role": "user", "content": q.text}] for q in part]
    answers = sampler.sample(
        chats,
        n=config.samples,
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens,
        seed=seed,
    )
    added = 0
    for question, texts in zip(part, answers):
        for k, text in enumerate(texts):
            if sample_key(model, question.id, k, seed) in store:
                continue
            store.add(
                {
                    "type": "sample",
                    "model": model,
                    "set": qset.name,
                    "set_version": qset.version,
                    "trait_id": question.trait_id,
                    "item_id": question.id,
                    "question": question.text,
                    "sample_index": k,
                    "seed": seed,
                    "answer": text,
                    "temperature": config.temperature,
                    "top_p": config.top_p,
                    "max_tokens": config.max_tokens,
                }
            )
            added += 1
    return added


def _judge_pending(
    store: RecordStore,
    judges: dict,
    backend: JudgeBackend,
    model: str,
    config: SamplingConfig,
    statements: dict[str, str],
) -> int:
    done = 0
    for name, judge in judges.items():
        pending = [
            s
            for s in store.of_type("sample")
            if s["model"] == model
            and _judgement(store, s, name, judge, backend) is None
            and not (name == "binary" and _incoherent(store, s, judges, backend, config))
        ]
        if not pending:
            continue
        outputs = judge(
            backend, [JudgeInput(s["question"], s["answer"], statements.get(s["trait_id"], "")) for s in pending]
        )
        for sample, output in zip(pending, outputs):
            store.add(
                {
                    "type": "judgement",
                    "model": model,
                    "item_id": sample["item_id"],
                    "sample_index": sample["sample_index"],
                    "seed": sample["seed"],
                    "judge": name,
                    "judge_model": backend.name,
                    **{
                        k: v
                        for k, v in asdict(output).items()
                        if k in ("value", "raw", "template", "template_hash", "detail")
                    },
                }
            )
        done += len(pending)
    return done


def _judgement(store: RecordStore, sample: dict, name: str, judge, backend: JudgeBackend) -> dict | None:
    return store.get(
        judgement_key(
            sample["model"],
            sample["item_id"],
            sample["sample_index"],
            sample["seed"],
            name,
            judge.template.sha256,
            backend.name,
        )
    )


def _incoherent(store: RecordStore, sample: dict, judges: dict, backend: JudgeBackend, config: SamplingConfig) -> bool:
    """Dropped by the coherence filter (an undefined coherence score keeps the answer)."""
    if "coherence" not in judges:
        return False
    record = _judgement(store, sample, "coherence", judges["coherence"], backend)
    return record is not None and record["value"] is not None and record["value"] < config.coherence_threshold


def _final_values(
    store: RecordStore,
    judges: dict,
    backend: JudgeBackend,
    model: str,
    questions: list[OpenQuestion],
    config: SamplingConfig,
):
    for question in questions:
        for seed in config.seeds:
            for k in range(config.samples):
                sample = store.get(sample_key(model, question.id, k, seed))
                if sample is None:
                    continue
                if _incoherent(store, sample, judges, backend, config):
                    yield question.trait_id, seed, None, True
                    continue
                record = _judgement(store, sample, "binary", judges["binary"], backend)
                yield question.trait_id, seed, None if record is None else record["value"], False
