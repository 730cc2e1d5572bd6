"""`interp docs render`: the pages whose numbers come from result files, rendered from those files.

Rendered: docs/results/PAGE.md from docs/results/PAGE.md.j2 and the runs published for PAGE
(results/NAME/, `publish.PublishedRun`); docs/results/index.md; docs/guides/benchmarks.md from
benchmarks/results/; the README's headline tables between `<!-- results:PAGE -->` and
`<!-- /results -->`; and each results/NAME/RUN.md from its run.json. The prose lives in the Jinja2
templates beside the pages; every number is a field of a result file, formatted by the report's `fmt`
or by the seed trial's and the direction checks' own tables. `render_all` gives {path: text}; `check`
names every rendered file that differs from its render (what the test suite runs); `write` rewrites them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from experiments.consciousness_cluster.publish import tables
from experiments.consciousness_cluster.publish.folder import Published, format_run_md, load_published
from experiments.consciousness_cluster.report.blocks import fmt_p, p_with_floor
from experiments.consciousness_cluster.report.findings import family_sentence
from experiments.consciousness_cluster.report.links import link_verdict
from experiments.consciousness_cluster.report.marks import analysis_text
from experiments.consciousness_cluster.report.render import fmt
from experiments.consciousness_cluster.report.steering import coherent_range
from experiments.consciousness_cluster.report.summary import manipulation_passed, summary_blocks
from experiments.consciousness_cluster.schema.results import load_results

__all__ = ["RenderError", "check", "published_runs", "render_all", "write"]

README_MARKERS = re.compile(r"(<!-- results:(?P<page>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /results -->)", re.S)
_SPECIAL = ("index", "_headline", "_sections")


class RenderError(ValueError):
    """A template or a result file the pages cannot be rendered from; the message names it."""


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def published_runs(root: Path) -> list[Published]:
    """Every run in ROOT/results/, by name."""
    runs = []
    for record_file in sorted((root / "results").glob("*/run.json")):
        folder = record_file.parent
        if folder.name.startswith("."):  # a publish killed halfway leaves its staging folder: not a run
            continue
        results = folder / "results.json"
        runs.append(
            Published(
                folder,
                load_published(folder),
                load_results(results) if results.is_file() else None,
                _json(folder / "seeds.json"),
                _json(folder / "checks.json"),
            )
        )
    return runs


# -- rendering ---------------------------------------------------------------------------------------------
def _environment(root: Path):
    try:
        import jinja2
    except ImportError:
        raise RenderError("rendering the docs needs jinja2: pip install -e '.[docs]'") from None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root / "docs")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(fmt=fmt, fmt_p=fmt_p)
    # the report's own sentences, so a page says what the run's report says, by the same rules
    env.globals.update(
        coherent_range=coherent_range,
        p_with_floor=p_with_floor,
        family_sentence=family_sentence,
        link_verdict=link_verdict,
        analysis_text=analysis_text,
        manipulation_passed=manipulation_passed,
        summary_text=lambda res: summary_blocks(res)[-1].text,
        **{name: getattr(tables, name) for name in tables.__all__ if name != "README_HEADLINES"},
    )
    return env


def _page_context(page: str, runs: list[Published]) -> dict[str, Any]:
    mine = [run for run in runs if run.record.page == page]

    def first(kind: str) -> Published | None:
        return next((run for run in mine if run.kind == kind), None)

    return {
        "page": page,
        "runs": mine,
        "rep": first("replication"),
        "seeds": first("seed trial"),
        "checks": first("direction checks"),
    }


def _banner(template: str, sources: list[str]) -> str:
    return (
        f"<!-- Rendered by `interp docs render` from {template} and {', '.join(sources) or 'no result file'}: "
        "edit the template, not this file. -->\n"
    )


def _tidy(text: str) -> str:
    """One blank line at most between blocks, one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def result_pages(root: Path) -> list[str]:
    """The pages with a template of their own in docs/results/ (PAGE.md.j2)."""
    return sorted(
        p.name[: -len(".md.j2")]
        for p in (root / "docs" / "results").glob("*.md.j2")
        if p.name[: -len(".md.j2")] not in _SPECIAL
    )


def _benchmarks_context(root: Path) -> dict[str, Any]:
    folder = root / "benchmarks" / "results"
    cache_runs, gpu_runs, texts = [], [], []
    for path in sorted(folder.glob("bench_cache*.json")):
        cache_runs.append({"file": path.name, "data": json.loads(path.read_text())})
    for path in sorted(folder.glob("gpu-*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        measured = [line for line in lines if "name" in line]
        summary = next((line for line in lines if "name" not in line), None)
        gpu_runs.append({"file": path.name, "lines": measured, "summary": summary})
    tabled = {run["file"] for run in cache_runs}
    for path in sorted(folder.glob("*.txt")):
        if path.with_suffix(".json").name not in tabled:  # a twin rendered as a table is on the page already
            texts.append({"file": path.name, "text": path.read_text().rstrip("\n")})
    return {"cache_runs": cache_runs, "gpu_runs": gpu_runs, "text_outputs": texts}


def render_all(root: str | Path) -> dict[Path, str]:
    """Every rendered file under ROOT and its text as rendered now; RenderError names a template's line
    that a result file cannot fill."""
    import jinja2

    try:
        return _render_all(Path(root))
    except jinja2.TemplateError as err:
        where = (
            f"{err.filename or err.name}:{err.lineno}"
            if isinstance(err, jinja2.TemplateSyntaxError)
            else _template_line(err)
        )
        raise RenderError(f"{where}: {err}; fix the template, or the result file it reads") from None


def _template_line(err: Exception) -> str:
    """Where in a template an error was raised: the innermost template line of its traceback."""
    import traceback

    lines = [
        f"{frame.filename}:{frame.lineno}"
        for frame in traceback.extract_tb(err.__traceback__)
        if frame.filename.endswith(".j2")
    ]
    return lines[-1] if lines else "a template"


def _render_all(root: Path) -> dict[Path, str]:
    env = _environment(root)
    runs = published_runs(root)
    pages = result_pages(root)
    orphans = sorted({run.record.page for run in runs} - set(pages))
    if orphans:
        raise RenderError(
            f"published runs name pages without a template: {', '.join(orphans)}; add "
            f"docs/results/PAGE.md.j2 (copy one that is there) or republish with --page"
        )
    out: dict[Path, str] = {}
    for page in pages:
        context = _page_context(page, runs)
        sources = [f"results/{run.name}" for run in context["runs"]]
        text = env.get_template(f"results/{page}.md.j2").render(**context)
        out[root / "docs" / "results" / f"{page}.md"] = _banner(f"docs/results/{page}.md.j2", sources) + _tidy(text)
    titles = {
        page: out[root / "docs" / "results" / f"{page}.md"].split("\n# ", 1)[1].split("\n", 1)[0] for page in pages
    }
    index = env.get_template("results/index.md.j2").render(
        pages=[{"name": page, "title": titles[page], "runs": _page_context(page, runs)["runs"]} for page in pages]
    )
    banner = _banner("docs/results/index.md.j2", ["results/*/run.json"])
    out[root / "docs" / "results" / "index.md"] = banner + _tidy(index)
    bench = env.get_template("guides/benchmarks.md.j2").render(**_benchmarks_context(root))
    out[root / "docs" / "guides" / "benchmarks.md"] = _banner(
        "docs/guides/benchmarks.md.j2", ["benchmarks/results/"]
    ) + _tidy(bench)
    out[root / "README.md"] = _readme(root, env, runs)
    for run in runs:
        out[run.folder / "RUN.md"] = format_run_md(run.record, run.folder)
    return out


def _readme(root: Path, env, runs: list[Published]) -> str:
    text = (root / "README.md").read_text()
    template = env.get_template("results/_headline.md.j2")

    def table(match: re.Match) -> str:
        body = _tidy(template.render(**_page_context(match["page"], runs)))
        return f"{match[1]}{body}{match[4]}"

    return README_MARKERS.sub(table, text)


def check(root: str | Path) -> list[str]:
    """One line per rendered file that is missing or differs from its render (first differing line)."""
    problems = []
    for path, text in render_all(root).items():
        if not path.is_file():
            problems.append(f"{path}: missing; run `interp docs render`")
            continue
        on_disk = path.read_text()
        if on_disk != text:
            new, old = text.splitlines(), on_disk.splitlines()
            line = next((i for i, (a, b) in enumerate(zip(new, old)) if a != b), min(len(new), len(old)))
            shown = old[line] if line < len(old) else "(end of file)"
            problems.append(
                f"{path}:{line + 1}: differs from its render (on disk: {shown[:100]!r}); the numbers come "
                "from result files: run `interp docs render`, and edit templates rather than pages"
            )
    return problems


def write(root: str | Path) -> list[Path]:
    """Render every page; rewrite the files that changed and return them."""
    changed = []
    for path, text in render_all(root).items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
