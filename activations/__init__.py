"""Reading the residual stream out: capture hooks, kernels, batching and the HDF5 store."""

from activations.cache import CacheConfig, CacheResult, cache, cache_activations
from activations.capture import ForwardStopped, block_output, capture_residual, run_to_layers, stop_after
from activations.examples import (
    EncodedExample,
    Example,
    ExampleError,
    as_examples,
    contrast_examples,
    encode_example,
    read_examples,
)
from activations.h5file import StoreMismatchError
from activations.layers import LayerSpecError, parse_layer_spec, parse_layers, select_layers
from activations.memory import ActivationRows, activations_of
from activations.positions import POSITION_RULES
from activations.schema import StoreFormatError
from activations.store import ActivationStore, IncompleteStoreError, LayerData, NonFiniteRowsError
from activations.stream import DirectionsError, LayerStats, load_directions

__all__ = [
    "POSITION_RULES",
    "ActivationRows",
    "ActivationStore",
    "CacheConfig",
    "CacheResult",
    "DirectionsError",
    "EncodedExample",
    "Example",
    "ExampleError",
    "ForwardStopped",
    "IncompleteStoreError",
    "LayerData",
    "LayerSpecError",
    "LayerStats",
    "NonFiniteRowsError",
    "StoreFormatError",
    "StoreMismatchError",
    "activations_of",
    "as_examples",
    "block_output",
    "cache",
    "cache_activations",
    "capture_residual",
    "contrast_examples",
    "encode_example",
    "load_directions",
    "parse_layer_spec",
    "parse_layers",
    "read_examples",
    "run_to_layers",
    "select_layers",
    "stop_after",
]
