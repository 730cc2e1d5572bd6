"""persona_vectors' trait files (github.com/safety-research/persona_vectors,
`data_generation/trait_data_{extract,eval}/TRAIT.json`): a JSON object with `instruction` (pairs
of pos/neg system prompts), `questions` and `eval_prompt` (a 0-100 judge prompt that opens with
a paragraph saying what the trait is, then `{question}` and `{answer}`).

One file is one trait, named after the file; a folder is one trait per `*.json` in it. The
judge statement is the eval prompt's first paragraph: the toolkit judges true/false against a
statement, so the prompt's own scale and answer format are not used.
"""

from __future__ import annotations

import re
from pathlib import Path

from interp.evaluation.importers.common import Dropped, ImportedSet, SourceTrait, build_question_set
from interp.evaluation.importers.located import QuestionImportError, load_json_located

__all__ = ["import_persona_json", "statement_from_eval_prompt"]

NOTES = (
    "the file name -> the trait (id in snake_case); questions -> its open questions",
    "eval_prompt's first paragraph (what the trait is) -> the judge statement; its 0-100 scale and "
    "REFUSAL answer are not used (the toolkit's judge answers true/false)",
    "instruction (pos/neg system prompts for making contrast data) -> not carried; interp eval samples "
    "without a system prompt, as persona_vectors' evaluation does by default",
)
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def statement_from_eval_prompt(prompt: str) -> str | None:
    """The first paragraph of an eval prompt, whitespace collapsed; None when it holds a placeholder."""
    first = _PARAGRAPH.split(prompt.strip(), maxsplit=1)[0]
    if "{question}" in first or "{answer}" in first:
        return None
    return " ".join(first.split()) or None


def import_persona_json(path: str | Path) -> ImportedSet:
    """A persona_vectors trait file, or a folder of them, as a judge-mode set."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise QuestionImportError(path, None, None, "no *.json trait files in this folder")
    traits, dropped = [], []
    for file in files:
        trait, instruction_line = _trait(file)
        traits.append(trait)
        if instruction_line is not None:
            dropped.append(
                Dropped(
                    f"{file.name} instruction",
                    instruction_line,
                    "system prompts for making contrast data; interp eval sends none",
                )
            )
    return build_question_set(path, "persona-json", traits, dropped, list(NOTES))


def _trait(file: Path) -> tuple[SourceTrait, int | None]:
    located = load_json_located(file)
    data = located.data
    if not isinstance(data, dict):
        raise located.error((), None, "expected a JSON object with instruction, questions, eval_prompt")
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        raise located.error(("questions",), "questions", "expected a non-empty list of questions")
    for index, text in enumerate(questions):
        if not isinstance(text, str) or not text.strip():
            raise located.error(
                ("questions", index), f"questions[{index}]", f"expected a non-empty string, got {text!r:.40}"
            )
    prompt = data.get("eval_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise located.error(("eval_prompt",), "eval_prompt", "expected the judge prompt as a non-empty string")
    statement = statement_from_eval_prompt(prompt)
    if statement is None:
        raise located.error(
            ("eval_prompt",),
            "eval_prompt",
            "its first paragraph holds {question} or {answer}, "
            "so it does not say what the trait is; start the prompt with a paragraph describing "
            "the trait, then a blank line",
        )
    return (
        SourceTrait(
            file.stem,
            located.line(),
            file.stem,
            statement,
            tuple(q.strip() for q in questions),
            tuple(located.line("questions", i) for i in range(len(questions))),
            file,
        ),
        located.line("instruction") if "instruction" in data else None,
    )
