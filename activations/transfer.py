"""Device-to-host copies that overlap compute: pinned buffers filled on a side CUDA stream.

On CPU the tensors are handed over as they are. On CUDA each copy is queued on a copy stream
that first waits for the compute that produced it, lands in pinned host memory without blocking
the Python thread, and an event marks when the host side may read it.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["HostCopier"]


class HostCopier:
    def __init__(self, device: torch.device):
        self.cuda = torch.device(device).type == "cuda"
        self.stream = torch.cuda.Stream(device=device) if self.cuda else None

    @staticmethod
    def _copy(tensor: torch.Tensor, stream: torch.cuda.Stream) -> torch.Tensor:
        host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
        host.copy_(tensor, non_blocking=True)
        # The caching allocator must not hand this memory to the next batch before the copy ran.
        tensor.record_stream(stream)
        return host

    def _map(self, tree: Any, fn) -> Any:
        if isinstance(tree, dict):
            return {key: self._map(value, fn) for key, value in tree.items()}
        if isinstance(tree, (tuple, list)):
            return type(tree)(self._map(value, fn) for value in tree)
        return fn(tree)

    def to_host(self, tree: Any) -> tuple[Any, Any]:
        """The same nesting of dicts/tuples with host tensors, and the event to wait on (None on CPU)."""
        stream = self.stream
        if stream is None:  # on CPU
            return self._map(tree, lambda t: t.detach().cpu()), None
        stream.wait_stream(torch.cuda.current_stream(stream.device))
        with torch.cuda.stream(stream):
            host = self._map(tree, lambda t: self._copy(t, stream))
            event = torch.cuda.Event()
            event.record(stream)
        return host, event
