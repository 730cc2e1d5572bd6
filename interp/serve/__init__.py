"""`interp serve`: a local model (with an adapter, with named directions) behind an OpenAI-compatible
endpoint, steering and ablation chosen per request, concurrent requests batched together.

Needs `pip install 'interp-cluster[serve]'` (starlette and uvicorn).

>>> from interp.serve import BackgroundServer, ServeConfig, load_host  # doctest: +SKIP
>>> config = ServeConfig("smollm2-135m-instruct", directions={"d": "runs/d.safetensors"})  # doctest: +SKIP
>>> with BackgroundServer(load_host(config)) as server:  # doctest: +SKIP
...     ...  # any OpenAI client on server.url, steering in extra_body={"steering": [...]}
"""

from interp.serve.app import build_app
from interp.serve.config import ServeConfig
from interp.serve.engine import Engine, QueueFull
from interp.serve.errors import RequestError
from interp.serve.host import ModelHost, load_host
from interp.serve.interventions import DirectionTable, Intervention, ServeSetupError, SteerEntry
from interp.serve.server import BackgroundServer, serve

__all__ = [
    "BackgroundServer",
    "DirectionTable",
    "Engine",
    "Intervention",
    "ModelHost",
    "QueueFull",
    "RequestError",
    "ServeConfig",
    "ServeSetupError",
    "SteerEntry",
    "build_app",
    "load_host",
    "serve",
]
