"""Published runs: a run folder's small files into results/NAME/ with RUN.md (`folder`: `interp publish`),
and the pages rendered from them, the benchmarks page and the README's headline tables (`pages`:
`interp docs render`)."""

__all__: list[str] = []
