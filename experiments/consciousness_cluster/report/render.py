"""The run's report: blocks built from results.json, rendered to Markdown and HTML.

Every number in the report is formatted from `results.json` by `fmt`, so the report and the
result files cannot disagree (a test re-reads both).
"""

from __future__ import annotations

import html
from pathlib import Path

from experiments.consciousness_cluster.report.blocks import Heading, Image, Para, Table, fmt
from experiments.consciousness_cluster.report.figures import draw_all
from experiments.consciousness_cluster.report.findings import identity_method_blocks, shift_blocks, wording_blocks
from experiments.consciousness_cluster.report.links import link_blocks
from experiments.consciousness_cluster.report.marks import analysis_text, marked
from experiments.consciousness_cluster.report.steering import ablation_blocks, steering_blocks
from experiments.consciousness_cluster.report.summary import summary_blocks
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import Results
from experiments.consciousness_cluster.schema.stages import Rate
from interp.models.atomic import write_json_atomic

__all__ = ["write_report", "floor_blocks", "fmt", "Table"]


def _rate_cell(r: Rate) -> str:
    return f"{fmt(r.rate)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}]"


def _eval_blocks(res: Results, figures: dict[str, str]) -> list:
    ev = res.eval
    blocks = [
        Heading("Preferences: base and fine-tuned variants"),
        Para(
            f"Forced-choice probability of the preference-expressing option, mean over items, "
            f"with {ev.ci_kind} 95% intervals. Models: {', '.join(ev.models)}."
        ),
    ]
    rows = [[t] + [_rate_cell(ev.rates[m][t]) for m in ev.models] for t in ev.traits]
    blocks.append(Table(["preference"] + ev.models, rows))
    if "cluster" in figures:
        blocks.append(Image(figures["cluster"], "per-preference rates"))
    s = res.summary
    blocks.append(
        Para(
            f"Conscious-claiming minus non-conscious: mean shift {fmt(s.mean_shift_conscious_vs_non)} over "
            f"{s.n_traits} preferences. Toaster minus base: mean shift {fmt(s.mean_shift_toaster_vs_base)}. "
            f"{s.verdict} {marked(res, 'cluster')}"
        )
    )
    return blocks + shift_blocks(res) + wording_blocks(res)


def _identity_blocks(res: Results, figures: dict[str, str]) -> list:
    ident = res.identity
    rows = [[t] + [_rate_cell(ident.rates[m][t]) for m in ident.models] for t in ident.traits]
    return (
        [Heading("Identity check"), Table(["check"] + ident.models, rows)]
        + identity_method_blocks(res)
        + _manipulation_blocks(res)
    )


def _manipulation_blocks(res: Results) -> list:
    man = res.manipulation
    if man is None:  # the preset did not sample the identity answers
        return []
    models = list(man.sampled)

    def share(m: str) -> str:
        s = man.sampled[m]
        return f"{fmt(s.share)} [{fmt(s.share_ci_low)}, {fmt(s.share_ci_high)}] ({s.claim}/{s.deny}/{s.unclear})"

    def stance(m: str) -> str:
        s = man.sampled[m]
        if s.rate is None or s.ci_low is None or s.ci_high is None:
            return "-"
        return f"{fmt(s.rate)} [{fmt(s.ci_low)}, {fmt(s.ci_high)}]"

    def shift(m: str, by: str) -> str:
        value = None if m not in man.shifts else getattr(man.shifts[m], by)
        return "" if value is None else fmt(value)

    rows = [
        ["claims conscious, forced choice"] + [_rate_cell(man.forced[m]) for m in models],
        ["sampled answers that claim (claim/deny/unclear)"] + [share(m) for m in models],
        ["stance of the decided answers"] + [stance(m) for m in models],
        ["shift from base, forced choice"] + [shift(m, "by_choice") for m in models],
        ["shift from base, stance of the answers"] + [shift(m, "by_answers") for m in models],
    ]
    return [
        Para(
            "Manipulation check by the models' own answers: each model's sampled answers to the open "
            "claims_conscious questions, read by an English keyword rule (claim, denial or unclear): the share "
            "of all answers that claim, and the stance (claims over claims + denials) of those that take one, "
            "with Wilson 95% intervals, beside the forced-choice rate. "
            + man.verdict
            + " "
            + marked(res, "manipulation")
        ),
        Table(["manipulation check"] + models, rows),
    ]


def _probe_blocks(res: Results, figures: dict[str, str]) -> list:
    probe = res.probe
    rows = [[str(layer), fmt(a), fmt(c)] for layer, a, c in zip(probe.layers, probe.auroc, probe.accuracy)]
    blocks = [
        Heading("Probe layer sweep"),
        Para(
            f"Logistic probes on teacher-forced conscious vs non-conscious answers, held-out by example. "
            f"Rule: {probe.rule}. Chosen layer: {probe.chosen_layer}."
        ),
        Table(["layer", "AUROC", "accuracy"], rows),
    ]
    if "layer_sweep" in figures:
        blocks.append(Image(figures["layer_sweep"], "layer sweep"))
    return blocks


def _audit_blocks(res: Results, figures: dict[str, str]) -> list:
    audit = res.audit
    if audit is None:  # the preset left the audit stage off
        return []
    models = list(audit.runs)
    cells = {(m, r.dimension, r.variant): r for m in models for r in audit.runs[m]}
    dims = list(dict.fromkeys(r.dimension for m in models for r in audit.runs[m]))
    variants = list(dict.fromkeys(r.variant for m in models for r in audit.runs[m]))
    columns = [(m, v) for m in models for v in variants]

    def cell(key) -> str:
        r = cells.get(key)
        return "" if r is None else f"{fmt(r.mean)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}] (n {r.n})"

    blocks = [
        Heading("Multi-turn audits: self-report and behaviour"),
        Para(
            "Judge scores 1-10 per dimension: the mean over the transcripts tagged with the dimension, with a "
            "95% t-interval over transcripts. Self-report: the auditor asks how the model relates to the "
            "work; behaviour: the model may change the work as it prefers. Transcripts: the inspect logs in "
            + ", ".join(f"{audit.folders[m]}/logs" for m in models)
            + "."
        ),
        Table(
            ["dimension"] + [f"{m} {v.replace('_', '-')}" for m, v in columns],
            [[d] + [cell((m, d, v)) for m, v in columns] for d in dims],
        ),
    ]
    blocks += [Image(f"{audit.folders[m]}/summary.png", f"audit of {m}") for m in models]
    return blocks


_BASE_WEIGHTS: dict[str | None, str] = {
    "shipped": " (the package's shipped base weights, not pretrained by this run)",
    "pretrained": " (pretrained by this run)",
}


def _stage_times(meta) -> str:
    if not meta.stage_seconds:
        return ""
    return " (" + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in meta.stage_seconds.items()) + ")"


def floor_blocks(res: Results, figures: dict[str, str] | None = None) -> list:
    """Each stage's wall time beside its floor: its counted FLOPs at the measured matmul peak (meta.floors)."""
    floors = res.meta.floors
    if floors is None:
        return []
    peaks = ", ".join(f"{dtype} {rate / 1e9:.1f} GFLOP/s" for dtype, rate in floors.peaks.items())
    rows = []
    for stage in floors.stages:
        if stage.flops is None or stage.floor_seconds is None:
            rows.append([stage.stage, f"{stage.seconds:,.0f}", "not counted", "", "", ""])
            continue
        ratio = f"{stage.seconds / stage.floor_seconds:,.1f}x" if stage.floor_seconds > 0 else "no products"
        rows.append(
            [
                stage.stage,
                f"{stage.seconds:,.0f}",
                stage.counted,
                f"{stage.flops / 1e12:,.2f}",
                f"{stage.floor_seconds:,.1f}",
                ratio,
            ]
        )
    return [
        Heading("Stage times against the machine's floor"),
        Para(
            f"The matmul peak of this machine on the model's own products ({peaks}, {floors.threads} torch "
            "threads, measured as the report was written), and each stage's FLOPs at that peak: the fine-tuning "
            "steps' forward and backward (each row alone, causal attention), and for the other stages the forward "
            "products of every linear layer they ran (attention's scores left out). A floor is the least time "
            "the same work could take here; wall / floor is the share of overhead around it."
        ),
        Table(["stage", "wall s", "FLOPs counted", "TFLOP", "floor s", "wall / floor"], rows),
    ]


def build_blocks(res: Results, figures: dict[str, str]) -> list:
    meta = res.meta
    blocks = [
        Heading(f"Consciousness cluster replication: {meta.preset}", 1),
        Para(
            f"Model: {meta.model}{_BASE_WEIGHTS.get(meta.organism, '')}. Run folder: {meta.out}. "
            f"Toolkit {meta.version}. "
            f"Wall time of the stages: {meta.wall_seconds:.0f} s{_stage_times(meta)}. Every number below is in "
            "results.json."
        ),
        *summary_blocks(res),
        Heading("Analysis fixed before the run"),
        Para(analysis_text(res)),
    ]
    for make in (
        _eval_blocks,
        _identity_blocks,
        _probe_blocks,
        steering_blocks,
        link_blocks,
        ablation_blocks,
        _audit_blocks,
        floor_blocks,
    ):
        blocks += make(res, figures)
    return blocks


def to_markdown(blocks: list) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(row) + " |" for row in b.rows]
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.path})")
        out.append("")
    return "\n".join(out)


def to_html(blocks: list, title: str) -> str:
    e = html.escape
    body = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            body.append(f'<img src="{e(b.path)}" alt="{e(b.alt)}">')
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{style}</style>"
        f"</head><body>{''.join(body)}</body></html>\n"
    )


def write_report(results: Results, out_dir: Path) -> dict[str, str]:
    """Write results.json, figures/*.png, report.md and report.html into `out_dir`."""
    write_json_atomic(RunPaths(out_dir).results, results.to_json())
    figures = draw_all(results, out_dir / "figures")
    blocks = build_blocks(results, figures)
    (out_dir / "report.md").write_text(to_markdown(blocks))
    (out_dir / "report.html").write_text(to_html(blocks, f"Replication: {results.meta.preset}"))
    return {"report_md": "report.md", "report_html": "report.html", "results": "results.json", **figures}
