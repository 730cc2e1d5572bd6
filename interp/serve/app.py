"""The HTTP side (Starlette): routes, the bearer key, body limits, streaming and disconnects.

Routes: `GET /health` (no key needed), `GET /v1/models`, `POST /v1/chat/completions`,
`POST /v1/completions`, `POST /tokenize` (also under `/v1`). Every error is JSON in the OpenAI shape.
A client that disconnects gives up its rows: the waiting ones leave the queue at once, the running
ones at the batch's next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from interp.serve.engine import QueueFull, Ticket
from interp.serve.errors import RequestError, error_body
from interp.serve.host import ModelHost
from interp.serve.responses import Answer, Reply, sse
from interp.serve.rows import Row
from interp.serve.schema import Job, parse_chat, parse_completion, parse_tokenize

__all__ = ["build_app"]

log = logging.getLogger("interp.serve")


class _EngineFailure(Exception):
    """The batch holding this request failed (logged with its traceback)."""


class _ClientGone(Exception):
    """The client disconnected; its rows were given up and nobody reads the answer."""


def _authorized(request: Request, key: str | None) -> bool:
    if key is None:
        return True
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken does not depend on how much of the key a guess got right
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


def _error(err: RequestError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


async def _body(request: Request, limit: int):
    declared = request.headers.get("content-length", "")
    too_large = RequestError(f"the request body is larger than this server's limit of {limit} bytes", "body", 413)
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large
    try:
        return json.loads(data)
    except ValueError as err:
        raise RequestError(f"not valid JSON ({err})", "body") from None


def _endpoint(handler: Callable) -> Callable:
    """The key check and the error shape around a handler `(request, host) -> Response`."""

    async def endpoint(request: Request) -> Response:
        host: ModelHost = request.app.state.host
        if not _authorized(request, host.api_key):
            return _error(
                RequestError(
                    "missing or wrong API key; send the header Authorization: Bearer <key>",
                    status=401,
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            )
        try:
            return await handler(request, host)
        except RequestError as err:
            return _error(err)
        except QueueFull as err:
            return _error(
                RequestError(str(err), status=429, code="queue_full", headers={"Retry-After": str(err.retry_after)})
            )

    return endpoint


async def _health(request: Request) -> Response:
    host: ModelHost = request.app.state.host
    return JSONResponse({"status": "ok", "model": host.config.name, **host.engine.stats()})


async def _models(request: Request, host: ModelHost) -> Response:
    config = host.config
    card = {
        "id": config.name,
        "object": "model",
        "created": 0,
        "owned_by": "interp",
        "root": config.model,
        "adapter": config.adapter,
        "max_model_len": host.lm.context_length,
        "directions": host.directions.describe(),
    }
    return JSONResponse({"object": "list", "data": [card]})


async def _tokenize(request: Request, host: ModelHost) -> Response:
    return JSONResponse(parse_tokenize(await _body(request, host.config.max_body_bytes), host.context))


def _generation(parse: Callable[..., Job]) -> Callable:
    async def generate(request: Request, host: ModelHost) -> Response:
        job = parse(await _body(request, host.config.max_body_bytes), host.context)
        ticket = Ticket(asyncio.get_running_loop())
        host.engine.submit(
            ticket,
            [Row(prompt, job.sampling, seed, job.intervention) for prompt in job.prompts for seed in job.seeds()],
        )
        reply = Reply(job, host.config.name)
        if job.stream:
            return StreamingResponse(_stream(request, host, ticket, reply), media_type="text/event-stream")
        answers = [Answer() for _ in ticket.rows]
        try:
            async with _watch(request, host, ticket):
                async for index, update in _updates(ticket):
                    answers[index].add(update)
        except _EngineFailure as err:
            return JSONResponse(error_body(str(err), 500), status_code=500)
        except _ClientGone:
            return Response(status_code=499)  # never sent: there is no one to send it to
        return JSONResponse(reply.whole(answers))

    return generate


async def _updates(ticket: Ticket) -> AsyncIterator:
    """(row index, RowUpdate) until every row of the ticket has finished."""
    left = set(range(len(ticket.rows)))
    while left:
        index, update = await ticket.updates.get()
        if isinstance(update, _ClientGone):
            raise update
        if index not in left:
            continue
        if isinstance(update, Exception):
            raise _EngineFailure(f"generation failed: {type(update).__name__}: {update}")
        if update.finish_reason is not None:
            left.discard(index)
        yield index, update


@contextlib.asynccontextmanager
async def _watch(request: Request, host: ModelHost, ticket: Ticket):
    """While the body runs, a client that disconnects gives its rows up; so does a handler that stops early."""

    async def listen() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        host.engine.withdraw(ticket)
        ticket.updates.put_nowait((None, _ClientGone()))  # ends the wait for rows that will not come

    watcher = asyncio.create_task(listen())
    try:
        yield
    finally:
        watcher.cancel()
        host.engine.withdraw(ticket)  # a no-op for rows that have finished


async def _stream(request: Request, host: ModelHost, ticket: Ticket, reply: Reply) -> AsyncIterator[str]:
    answers = [Answer() for _ in ticket.rows]
    async with _watch(request, host, ticket):
        for opening in reply.opening():
            yield sse(opening)
        try:
            async for index, update in _updates(ticket):
                answers[index].add(update)
                chunk = reply.chunk(index, update)
                if chunk is not None:
                    yield sse(chunk)
        except _EngineFailure as err:
            yield sse(error_body(str(err), 500))
        except _ClientGone:
            return
        else:
            if reply.job.include_usage:
                yield sse(reply.final_usage(answers))
        yield sse("[DONE]")


def build_app(host: ModelHost) -> Starlette:
    """The ASGI app serving `host`; its engine thread runs from startup to shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        host.engine.start()
        try:
            yield
        finally:
            await asyncio.to_thread(host.engine.stop)

    generate_chat, generate_text = _endpoint(_generation(parse_chat)), _endpoint(_generation(parse_completion))
    tokenize = _endpoint(_tokenize)
    routes = [
        Route("/health", _health),
        Route("/v1/models", _endpoint(_models)),
        Route("/v1/chat/completions", generate_chat, methods=["POST"]),
        Route("/v1/completions", generate_text, methods=["POST"]),
        Route("/tokenize", tokenize, methods=["POST"]),
        Route("/v1/tokenize", tokenize, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.host = host
    return app
