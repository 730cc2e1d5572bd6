"""The probes' view of an activation file: thin wrappers over `activations.ActivationStore`.

The file's schema (names, attributes, bfloat16 decoding) is owned by `activations.schema`; these
functions read through `ActivationStore`, so rows are float32 whatever the storage dtype. Each
takes a path (opened, read and closed again; an incomplete file is refused unless
`allow_partial=True`), an open `ActivationStore` (read as it was opened), or rows held in memory
(`activations.ActivationRows`, which reads the same way).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from activations.memory import ActivationRows
from activations.store import ActivationStore, LayerData

__all__ = ["LayerData", "StoreSource", "list_layers", "load_groups", "load_layer", "reading", "store_attrs"]

StoreSource = str | Path | ActivationStore | ActivationRows


@contextmanager
def reading(source: StoreSource, allow_partial: bool = False) -> Iterator[ActivationStore | ActivationRows]:
    """The store (or rows in memory) itself when given one, else the file at `source` opened for this block."""
    if isinstance(source, ActivationStore | ActivationRows):
        yield source
        return
    with ActivationStore(source, allow_partial=allow_partial) as store:
        yield store


def list_layers(source: StoreSource, *, allow_partial: bool = False) -> list[int]:
    """The layers whose rows the file stores, ascending."""
    with reading(source, allow_partial) as store:
        return store.acts_layers


def store_attrs(source: StoreSource, *, allow_partial: bool = False) -> dict:
    """The root attributes (model id, layers, ...) as plain Python values."""
    with reading(source, allow_partial) as store:
        return store.attrs


def load_layer(source: StoreSource, layer: int, *, allow_partial: bool = False) -> LayerData:
    """One layer's activations as float32, with each row's label and example index.

    Refuses a file without `/examples/label` and NaN or infinite rows (naming their examples).
    """
    with reading(source, allow_partial) as store:
        return store.layer_data(layer)


def load_groups(source: StoreSource, *, allow_partial: bool = False) -> np.ndarray | None:
    """`/examples/group` (one int per example) when the file has it, else None."""
    with reading(source, allow_partial) as store:
        return store.groups()
