"""The replication's stages: the base model, fine-tunes and behaviour (`behaviour`); activations, the
direction, steering and links (`direction`); the opt-in multi-turn audit (`audit`)."""

__all__: list[str] = []
