"""Helpers for the `interp serve` tests: a tiny model served on a free loopback port, a direction
file written by the toolkit's writer, and a gate that holds the engine inside a forward pass so that
queue states can be set up without racing the model."""

from __future__ import annotations

import contextlib
import threading
import time

import torch

from interp.models import load_direction, load_model, save_direction
from interp.serve import BackgroundServer, ServeConfig, load_host

NAME = "tiny-qwen3"


def direction_file(model_dir, path, seed: int = 1, scale: float = 20.0, layers=(0, 1, 2)) -> str:
    """A direction with one random row per layer, made (by its metadata) on the model in `model_dir`."""
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randn(len(layers), 32, generator=gen) * scale
    lm = load_model(model_dir)
    save_direction(path, rows, {"model": str(model_dir), "weights_id": lm.weights_id, "layers": list(layers)})
    return str(path)


def row(path, layer: int) -> torch.Tensor:
    return load_direction(path).at(layer)


@contextlib.contextmanager
def serving(model_dir, directions=None, lm=None, **config):
    """(server, host) for the model in `model_dir` (or the loaded `lm`), named NAME, stopped on exit."""
    config = ServeConfig(str(model_dir), directions=dict(directions or {}), served_name=NAME, **config)
    host = load_host(config, lm=lm if lm is not None else load_model(model_dir))
    with BackgroundServer(host) as server:
        yield server, host


@contextlib.contextmanager
def serving_v(tiny_model_dir, tmp_path_factory):
    """(server, host, model folder, direction file): the tiny Qwen3 served with one direction named v."""
    model_dir = tiny_model_dir("qwen3")
    path = direction_file(model_dir, tmp_path_factory.mktemp("dirs") / "v.safetensors")
    with serving(model_dir, {"v": path}) as (server, host):
        yield server, host, model_dir, path


class Gate:
    """Holds every forward pass of `lm` until opened (then slows each by `delay` seconds); records each
    pass's (batch, sequence) shape."""

    def __init__(self, lm, delay: float = 0.0) -> None:
        self.delay = delay
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.shapes: list[tuple[int, int]] = []
        self.handle = lm.model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        self.entered.set()
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        self.opened.wait(60)
        time.sleep(self.delay)

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.opened.set()
        self.handle.remove()
