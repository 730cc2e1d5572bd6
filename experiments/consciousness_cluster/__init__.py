"""Replication of "The Consciousness Cluster", in rooms by role, lowest layer first:

- `corpora`: the generators of the fine-tuning sets and replay prompts (their output is `data/`);
- `schema`: the run folder's layout, the stage results and results.json as types;
- `analysis`: the measurements the stages call (steering checks, the manipulation check, the on-policy direction);
- `report`: the report and its figures, drawn from results.json alone;
- `run`: the preset, the resumable runner, the stages and `interp replicate`'s pipeline;
- `studies`: whole experiments built on the run (the seed trial, the direction checks, the recipe screen);
- `publish`: a finished run's small files into results/NAME/ with its record, and the pages rendered from them.

A room imports only from the rooms below it (`analysis` and `report` not from each other; an
import-linter contract in pyproject.toml). The question sets, presets, data and accelerate configs
stay in their folders beside the rooms.
"""

__all__: list[str] = []
