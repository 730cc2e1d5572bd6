"""Pre-registered or exploratory: the mark each result of the report carries, and the block it is read against.

Every section that reports a test calls `marked(res, TEST)` (a name of `schema.analysis.TESTS`, or of
`EXPLORATORY` for what the block never declared) and puts the mark beside the result.
"""

from __future__ import annotations

from experiments.consciousness_cluster.schema.analysis import mark
from experiments.consciousness_cluster.schema.results import Results

__all__ = ["analysis_text", "marked"]


def marked(res: Results, test: str) -> str:
    """ "[pre-registered: ...]" or "[exploratory: why]" for the result `test` of this run."""
    return str(mark(res.analysis, test))


def analysis_text(res: Results) -> str:
    """The block the run's results are read by, when it was recorded, and what changed since."""
    record = res.analysis
    if record is None:
        return (
            "No analysis block was recorded for this run (its results.json predates it): every result below "
            "is exploratory."
        )
    spec = record.spec
    when = (
        "before the first stage ran"
        if not record.late_stages
        else f"after stages {', '.join(record.late_stages)} had run (the run started before the block existed)"
    )
    measure = (spec.identity_measure or "none").replace("_", " ")
    text = (
        f"Analysis fixed in the preset and recorded in analysis.json at {record.recorded_at}, {when}: every test "
        f"at alpha {spec.alpha:g}, {spec.correction.title()}-corrected per family of preferences (Benjamini-"
        f"Hochberg q beside it); fine-tuning shifts {spec.cluster_alternative}; the steering / fine-tuning link "
        f"against {spec.link_target.replace('_', ' ')}, {spec.link_alternative}; steering specificity "
        f"{spec.specificity_alternative}; steering layer by rule '{spec.layer_rule}', alpha by rule "
        f"'{spec.alpha_rule}'; identity measure of record: {measure}; smallest "
        f"detectable effects at power {spec.power:g}. Each result below is marked pre-registered (its test, "
        f"sidedness and rule were in this block) or exploratory."
    )
    if not spec.preregistered:
        text += " The block says it was not fixed before the run: every result is exploratory."
    for change in record.changes:
        text += f" Changed at {change.time} (--allow-analysis-change): {change.field} {change.old!r} -> {change.new!r}."
    return text
