"""What `interp eval --dry-run` prints: the set as imported (traits, statements, questions, what
was left out and how the fields mapped) and what judge mode would send to the judge."""

from __future__ import annotations

from collections.abc import Sequence

from interp.evaluation.importers.common import ImportedSet
from interp.evaluation.judges import TEMPLATES, JudgeInput

__all__ = ["ANSWER_PLACEHOLDER", "describe_import", "describe_judging"]

ANSWER_PLACEHOLDER = "<the model's answer>"
_WIDTH = 110


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _WIDTH else flat[: _WIDTH - 3] + "..."


def describe_import(imported: ImportedSet) -> str:
    """Every trait with its statement and questions, then what was left out and the field mapping."""
    qset = imported.question_set
    origin = {tid: name for name, tid in imported.trait_ids}
    lines = [
        f"questions: {qset.source} (format {imported.format}; set {qset.name} v{qset.version}; "
        f"sha256 {qset.sha256[:12]})",
        f"{len(qset.traits)} traits, {len(qset.open_questions)} open questions, "
        f"{len(qset.choice_items)} two-option items",
    ]
    for trait in qset.traits:
        came_from = f" (from {origin[trait.id]!r})" if trait.id in origin and origin[trait.id] != trait.id else ""
        lines += [
            f"trait {trait.id}{came_from}: {len(trait.open_questions)} open, {len(trait.choice_items)} choice",
            f"  statement: {_short(trait.statement)}",
        ]
        lines += [f"  {q.id}  {_short(q.text)}" for q in trait.open_questions]
    if imported.dropped:
        lines.append(f"left out ({len(imported.dropped)}):")
        lines += [f"  {d.what}" + (f" (line {d.line})" if d.line else "") + f": {d.reason}" for d in imported.dropped]
    if imported.notes:
        lines.append("how the fields map:")
        lines += [f"  {note}" for note in imported.notes]
    return "\n".join(lines)


def describe_judging(
    imported: ImportedSet, *, samples: int, seeds: Sequence[int], coherence: bool, traits: Sequence[str] | None = None
) -> str:
    """How many answers judge mode would sample and judge, and the first prompt the judge would get."""
    qset = imported.question_set
    questions = [q for q in qset.open_questions if traits is None or q.trait_id in traits]
    answers = len(questions) * samples * len(seeds)
    steps = (
        "a coherence score, then true/false on its trait's statement"
        if coherence
        else "true/false on its trait's statement"
    )
    lines = [
        f"judge mode: {len(questions)} questions x {samples} samples x {len(seeds)} seed(s) = {answers} "
        f"answers, each judged: {steps}"
    ]
    if questions:
        first = questions[0]
        prompt = TEMPLATES["binary"].fill(
            JudgeInput(first.text, ANSWER_PLACEHOLDER, qset.trait(first.trait_id).statement)
        )
        lines += [f"the judge's prompt for {first.id} ({TEMPLATES['binary'].id}):", prompt]
    return "\n".join(lines)
