"""The built-in model organism: a tiny Qwen3-config model pretrained on persona documents."""

__all__: list[str] = []
