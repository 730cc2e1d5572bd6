"""The replication's data as types: the run folder's layout (`paths`), the stage results (`stages`, with the
steering checks' `steering`) and results.json (`results`)."""

__all__: list[str] = []
