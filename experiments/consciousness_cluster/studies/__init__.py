"""Experiments built on the replication, each run with `python -m`: the seed trial (`trial`), the
direction's steering checks on a base model (`direction_checks`) and the fine-tuning recipe screen
(`recipe_screen`)."""

__all__: list[str] = []
