"""The run's report (`render`: Markdown and HTML) and its figures (`figures`), drawn from results.json alone."""

__all__: list[str] = []
