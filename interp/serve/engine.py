"""The batching engine: one thread owns the model and runs batches of rows taken from a bounded queue.

Rows (one per prompt and choice) wait in arrival order. When the model is free, the engine takes the
oldest waiting row and, behind it, every waiting row that may share its forward passes, up to
`max_batch` rows. The grouping rule: rows share a batch when they ablate the same directions at the
same layers (steering may differ freely: it is per row); on a model with a sliding attention window,
only rows whose prompts have the same length share one, since left padding would move the window.
Rows leave a batch as they end; while it has room, waiting rows of its group join it between two
steps, in arrival order, up to the first waiting row of another group (which then waits for the
batch to drain and starts the next one, so no group waits behind a stream of another's). Batches
on sliding-window models, whose caches cannot be joined, run with the rows they started with.

The queue is bounded: a request whose rows do not fit among the `max_queue` waiting ones is refused
(`QueueFull`, answered 429 with Retry-After). A request given up by its client leaves the queue at
once and its running rows at the next step. `stop` lets queued and running rows finish first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import deque
from typing import Any

from interp.serve.batch import run_batch
from interp.serve.codec import Codec
from interp.serve.rows import Row, RowUpdate

__all__ = ["Engine", "QueueFull", "Ticket"]

log = logging.getLogger("interp.serve")


class QueueFull(Exception):
    """No room in the queue; `retry_after`: seconds to wait before asking again (rows end and free room
    continuously, so a short wait is the honest advice)."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class Ticket:
    """A request's rows in the engine; updates arrive on `updates` as (row index, RowUpdate or error)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.updates: asyncio.Queue = asyncio.Queue()
        self.rows: list[Row] = []
        self.cancelled = False

    def deliverer(self, index: int):
        def deliver(update: RowUpdate | Exception) -> None:
            try:
                self.loop.call_soon_threadsafe(self.updates.put_nowait, (index, update))
            except RuntimeError:  # the event loop is gone: nobody is waiting any more
                pass

        return deliver

    def cancel(self) -> None:
        self.cancelled = True


class Engine:
    """Owns the model; `submit` queues a request's rows, a worker thread batches and runs them."""

    def __init__(
        self,
        lm: Any,
        codec: Codec,
        stop_ids: set[int],
        ablation_rows,
        max_batch: int = 8,
        max_queue: int = 64,
        same_length_only: bool = False,
    ) -> None:
        self.lm, self.codec, self.stop_ids, self.ablation_rows = lm, codec, stop_ids, ablation_rows
        self.max_batch, self.max_queue, self.same_length_only = max_batch, max_queue, same_length_only
        self.waiting: deque[tuple[Ticket, Row]] = deque()
        self.running = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="interp-serve-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Run what is queued and running to its end, then stop the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"running": self.running, "waiting": len(self.waiting)}

    def submit(self, ticket: Ticket, rows: list[Row]) -> None:
        """Queue `rows` for `ticket`, or raise QueueFull."""
        with self._cond:
            if self._stopping:
                raise QueueFull()
            self._drop_cancelled()
            if len(self.waiting) + len(rows) > self.max_queue:
                raise QueueFull()
            for index, row in enumerate(rows):
                row.deliver = ticket.deliverer(index)
                row.cancelled = lambda: ticket.cancelled
                self.waiting.append((ticket, row))
            ticket.rows = rows
            self._cond.notify_all()

    def withdraw(self, ticket: Ticket) -> None:
        """A client went away: its waiting rows leave the queue now, its running rows at their next step."""
        ticket.cancel()
        with self._cond:
            self._drop_cancelled()

    def _drop_cancelled(self) -> None:
        if any(ticket.cancelled for ticket, _ in self.waiting):
            self.waiting = deque(item for item in self.waiting if not item[0].cancelled)

    def _key(self, row: Row) -> tuple:
        return row.intervention.ablation, len(row.prompt.ids) if self.same_length_only else None

    def _pick(self, key: tuple, room: int, past_others: bool) -> list[Row]:
        """Up to `room` waiting rows of group `key`, oldest first; `past_others`: also those behind a
        row of another group. Call with the lock held."""
        taken: list[tuple[Ticket, Row]] = []
        rest: deque[tuple[Ticket, Row]] = deque()
        blocked = False
        for ticket, row in self.waiting:
            blocked = blocked or (self._key(row) != key and not past_others)
            (taken if len(taken) < room and not blocked and self._key(row) == key else rest).append((ticket, row))
        self.waiting = rest
        return [row for _, row in taken]

    def _take(self) -> list[Row] | None:
        """The next batch (None: stopping and nothing left), blocking while the queue is empty."""
        with self._cond:
            while True:
                self._drop_cancelled()
                if self.waiting:
                    break
                if self._stopping:
                    return None
                self._cond.wait()
            rows = self._pick(self._key(self.waiting[0][1]), self.max_batch, past_others=True)
            self.running = len(rows)
            return rows

    def _join(self, key: tuple, room: int) -> list[Row]:
        """Rows to join a running batch of group `key` (never past an older row of another group)."""
        if self.same_length_only:
            return []
        with self._cond:
            self._drop_cancelled()
            return self._pick(key, room, past_others=False)

    def _set_running(self, rows: int) -> None:
        with self._cond:
            self.running = rows

    def _work(self) -> None:
        while (rows := self._take()) is not None:
            key = self._key(rows[0])
            try:
                run_batch(
                    self.lm,
                    rows,
                    self.codec,
                    self.stop_ids,
                    self.ablation_rows,
                    more=functools.partial(self._join, key),
                    max_rows=self.max_batch,
                    running=self._set_running,
                )
            except Exception as err:  # one bad batch must not take the server down; its requests get a 500
                log.exception("a batch of %d row(s) failed", len(rows))
                for row in rows:
                    row.deliver(err)
            finally:
                self._set_running(0)
