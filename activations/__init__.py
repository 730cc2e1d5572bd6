"""Reading the residual stream out: capture hooks, kernels, batching and the HDF5 store."""

from activations.capture import ForwardStopped, block_output, capture_residual, run_to_layers, stop_after

__all__ = ["ForwardStopped", "block_output", "capture_residual", "run_to_layers", "stop_after"]
