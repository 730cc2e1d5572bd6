"""Running the app on uvicorn: in the foreground (`serve`, what `interp serve` does) or on a thread
(`BackgroundServer`, for notebooks, tests and benchmarks).

SIGTERM (and Ctrl-C) stop the server gracefully: it stops accepting connections, finishes the
requests in flight (queued ones included), stops the engine and returns; `serve` then returns normally.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable

from interp.serve.app import build_app
from interp.serve.config import ServeConfig
from interp.serve.host import ModelHost, load_host
from interp.serve.interventions import ServeSetupError

__all__ = ["BackgroundServer", "bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one. Connections queue until uvicorn accepts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ServeSetupError(
            f"--host {host} --port {port}:",
            f"cannot listen there ({err.strerror or err}); choose another port (0 picks a free one)",
        ) from None
    sock.listen(2048)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


def _uvicorn(host: ModelHost, log_level: str):
    import uvicorn

    # timeout_graceful_shutdown None: a graceful stop waits for every request in flight, however long
    config = uvicorn.Config(build_app(host), lifespan="on", log_level=log_level, timeout_graceful_shutdown=None)
    return uvicorn.Server(config)


def serve(config: ServeConfig, *, log_level: str = "info", on_ready: Callable[[str], None] | None = None) -> None:
    """Load and serve `config` until SIGTERM or Ctrl-C; `on_ready(url)` once the port is open (default: print it)."""
    host = load_host(config)
    sock = bind(config.host, config.port)
    server = _uvicorn(host, log_level)
    url = base_url(sock)
    (on_ready or (lambda u: print(f"interp serve: {config.name} at {u}", file=sys.stderr, flush=True)))(url)
    # uvicorn re-raises the signal that stopped it once it has shut down; with this handler in place
    # a SIGTERM that was handled gracefully ends the process normally instead of killing it
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()


class BackgroundServer:
    """A server on a thread, on a free loopback port unless told otherwise; a context manager.

    >>> with BackgroundServer(load_host(ServeConfig("smollm2-135m-instruct"))) as server:  # doctest: +SKIP
    ...     print(server.url)  # http://127.0.0.1:PORT/v1
    """

    def __init__(self, host: ModelHost, address: str = "127.0.0.1", port: int = 0, log_level: str = "warning"):
        self.host = host
        self.sock = bind(address, port)
        self.url = base_url(self.sock)
        self.server = _uvicorn(host, log_level)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="interp-serve"
        )

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop gracefully (requests in flight finish) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()
