"""The consciousness-cluster replication and the built-in model organism."""

__all__: list[str] = []
