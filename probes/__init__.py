"""Turning activations into directions and evidence. Sees arrays and tensors, never a model."""

__all__: list[str] = []
