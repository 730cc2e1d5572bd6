"""What `interp serve` serves and how: the model, its named directions, the address and the limits."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """One served model; every field is plain data (the API key itself is read from `api_key_env` at start)."""

    model: str
    """Hub id, local folder in HF format, GGUF file or packaged model."""
    adapter: str | None = None
    """A LoRA adapter folder (peft format) applied on top of `model`."""
    directions: dict[str, str] = field(default_factory=dict)
    """Direction files by the name requests use for them (`"steering": [{"direction": NAME, ...}]`)."""
    allow_other_model: bool = False
    """Serve directions whose metadata names another model (warns at start); refused otherwise."""
    served_name: str | None = None
    """The model id clients send and `/v1/models` lists (default: `model` as given)."""
    host: str = "127.0.0.1"
    """Address to listen on: loopback unless told otherwise."""
    port: int = 8000
    """Port to listen on; 0 picks a free one (printed at start)."""
    api_key_env: str | None = None
    """Environment variable holding the bearer key every /v1 request must carry (None: no key)."""
    max_batch: int = 8
    """Rows (one per prompt and choice) in one forward pass."""
    max_queue: int = 64
    """Rows waiting for a batch; a request that would overflow it is answered 429 with Retry-After."""
    max_body_bytes: int = 4 * 2**20
    """Largest request body accepted; a larger one is answered 413."""
    dtype: str | None = None
    """float32, bfloat16 or float16 (default: the checkpoint's)."""
    device: str | None = None
    """cpu, cuda, cuda:1, ... (default: cpu)."""

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port {self.port} is not a port number (0 picks a free one)")
        for name in self.directions:
            if not name or not name.strip() or "=" in name:
                raise ValueError(f"direction name {name!r}: give a non-empty name without '='")

    @property
    def name(self) -> str:
        return self.served_name or self.model
