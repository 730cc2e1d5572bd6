"""Replication of "The Consciousness Cluster": question sets and experiment scripts."""

__all__: list[str] = []
