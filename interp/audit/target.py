"""The audited model as a toolkit sampler: a local model (steered along a direction, or with a LoRA
adapter, on every turn) or any OpenAI-compatible server.

The sampler comes from the registry in `interp.evaluation.samplers`, so a target turn is drawn exactly
as `interp eval` draws an answer: same chat rendering, same per-sample seeds, same steering hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TargetSpec", "build_target"]


@dataclass(frozen=True)
class TargetSpec:
    """What to audit; every field is plain data, so it is recorded in the inspect log as the model's args."""

    model: str
    """Hub id, local folder, GGUF file or packaged model; the model's name on the server with `api_base`."""
    api_base: str | None = None
    """An OpenAI-compatible server to sample from instead of a local model."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding that server's key (read at request time, never stored)."""
    steer: str | None = None
    """A direction file (.safetensors) added to the residual stream on every target turn."""
    layer: int | None = None
    """The block whose output `steer` is added to."""
    alpha: float = 1.0
    """The raw multiple of the direction."""
    allow_other_model: bool = False
    """Apply `steer` even when its metadata names another model (warns)."""
    adapter: str | None = None
    """A LoRA adapter folder (peft format) applied on top of `model`."""
    dtype: str | None = None
    """float32, bfloat16 or float16 (default: the checkpoint's)."""
    device: str | None = None
    """cpu, cuda, ... (default: cpu)."""
    max_retries: int = 5
    """Retries of a failed request to `api_base`."""
    api_steering: str | None = None
    """JSON object sent with every request to `api_base` (`interp serve`'s "steering" and "ablate" fields)."""

    def __post_init__(self):
        local_only = [flag for flag, value in (("steer", self.steer), ("adapter", self.adapter)) if value]
        if self.api_base and local_only:
            verb = "needs" if len(local_only) == 1 else "need"
            raise ValueError(f"{' and '.join(local_only)} {verb} a local target; drop the target's api_base")
        if self.steer and self.layer is None:
            raise ValueError("steering needs the layer to steer")
        if self.steer and self.adapter:
            raise ValueError("give either a direction to steer along or an adapter, not both")
        if self.api_steering and not self.api_base:
            raise ValueError("api_steering steers a model on a server; give its api_base (or steer a local target)")

    def label(self) -> str:
        """A short description for reports: the model and what is done to it."""
        if self.steer:
            return f"{self.model} steered along {Path(self.steer).name} at layer {self.layer}, alpha {self.alpha:g}"
        if self.adapter:
            return f"{self.model} with adapter {self.adapter}"
        if self.api_steering:
            return f"{self.model} on {self.api_base}, steered there by {self.api_steering}"
        return self.model


def build_target(spec: TargetSpec):
    """(sampler, LoadedModel or None) for `spec`; the model is loaded once, hooks act on every turn."""
    from interp.evaluation.samplers import make_sampler

    if spec.api_base:
        import json

        extra_body = json.loads(spec.api_steering) if spec.api_steering else None
        return make_sampler(
            "openai",
            api_base=spec.api_base,
            model=spec.model,
            api_key_env=spec.api_key_env,
            concurrency=1,
            max_retries=spec.max_retries,
            extra_body=extra_body,
        ), None
    from interp.models import load_model

    lm = load_model(spec.model, dtype=spec.dtype, device=spec.device)
    if spec.adapter:
        from peft import PeftModel

        # peft injects the LoRA layers into lm.model's own modules, so the plain forward (and the
        # toolkit's hooks on lm.layers) run through them; the wrapper itself is not needed
        PeftModel.from_pretrained(lm.model, spec.adapter).eval()
    intervention = None
    if spec.steer:
        from interp.models import load_direction
        from interp.steering import steer

        if spec.layer is None:
            raise ValueError("steering needs the layer to steer")
        layer = lm.resolve_layer(spec.layer)
        vector = load_direction(spec.steer).for_model(lm, layer, allow_other_model=spec.allow_other_model)
        alpha = spec.alpha

        def intervention():
            return steer(lm, vector, layer=layer, alpha=alpha)

    return make_sampler("local", lm=lm, batch_size=1, intervention=intervention), lm
