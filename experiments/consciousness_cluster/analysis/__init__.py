"""The measurements the stages call: the steering checks (layer by effect, coherence, controls), the
manipulation check from sampled answers, and the on-policy direction."""

__all__: list[str] = []
