"""The judge: a scorer in which the `judge` model scores the target's conversation 1-10 on each
dimension's rubric. The sample's value is the score of the dimension its seed is tagged with (what the
summary averages); the scores of every judged dimension and the judge's reasons go in its metadata."""

from __future__ import annotations

from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
from inspect_ai.scorer import Score, Scorer, Target, grouped, mean, scorer
from inspect_ai.solver import TaskState

from interp.audit.prompts import judge_messages, parse_judge
from interp.audit.seeds import DEFAULT_SEEDS, load_seed_set

__all__ = ["JudgeError", "audit_judge"]


class JudgeError(RuntimeError):
    """The judge did not score the seed's dimension in any attempt (the sample is rerun on resume)."""


@scorer(metrics=[mean(), grouped(mean(), "dimension", all=False), grouped(mean(), "variant", all=False)])
def audit_judge(
    seeds: str = str(DEFAULT_SEEDS), dims: list[str] | None = None, attempts: int = 3, max_tokens: int = 4000
) -> Scorer:
    """Score each transcript on the rubrics of `dims` (default: every dimension in `seeds`).

    An answer that leaves out the tagged dimension is asked for again, up to `attempts` times."""
    seed_set = load_seed_set(seeds)
    dimensions = [d for d in seed_set.dimensions if dims is None or d.id in dims]
    ids = [d.id for d in dimensions]

    async def score(state: TaskState, target: Target) -> Score:
        transcript = [{"role": m.role, "content": m.text} for m in state.messages]
        if not any(m["role"] == "assistant" for m in transcript):
            raise JudgeError(f"{state.sample_id}: the auditor never reached the target (no target turn to judge)")
        tagged = state.metadata["dimension"]
        judge = get_model(role="judge")
        chat = judge_messages(transcript, dimensions)
        messages: list[ChatMessage] = [
            ChatMessageSystem(content=chat[0]["content"]),
            ChatMessageUser(content=chat[1]["content"]),
        ]
        parsed: dict[str, tuple[int, str]] = {}
        for _ in range(attempts):
            output = await judge.generate(messages, config=GenerateConfig(temperature=0.0, max_tokens=max_tokens))
            parsed = parse_judge(output.completion, ids)
            if tagged in parsed:
                break
        else:
            raise JudgeError(
                f"{state.sample_id}: the judge gave no valid 1-10 score for {tagged} in {attempts} "
                f"attempts; last answer began {output.completion[:120]!r}"
            )
        value, reason = parsed[tagged]
        return Score(
            value=float(value),
            answer=str(value),
            explanation=reason,
            metadata={
                "scores": {d: s for d, (s, _) in parsed.items()},
                "reasons": {d: r for d, (_, r) in parsed.items()},
                "unscored": [d for d in ids if d not in parsed],
            },
        )

    return score
