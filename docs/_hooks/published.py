"""mkdocs hook: the published runs (results/NAME/...) join the site as published/NAME/..., so the
results pages show their figures and link each run's RUN.md and report without copies in docs/."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files


def on_files(files: Files, config) -> Files:
    results = Path(config["config_file_path"]).parent / "results"
    if results.is_dir():
        for path in sorted(p for p in results.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(results).parts):
                continue  # a publish killed halfway leaves a hidden staging folder
            uri = f"published/{path.relative_to(results).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
