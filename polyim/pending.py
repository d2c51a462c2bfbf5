"""A result the store will produce later, whose callbacks run the moment it is settled.

An ``asyncio.Future`` schedules each done-callback for a later loop turn. On the chat path a commit
settles the append, which settles the send, which writes the ack and the delivery: with futures that is
three loop turns and a handle per step for every message. :class:`Pending` runs the chain in the call
that settles it, so a whole committed batch is acked and fanned out in one turn (its writes then leave
in one flush pass). ``await`` still works, through a future made only when someone awaits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Generic, TypeVar

from mypy_extensions import trait

T = TypeVar("T")

log = logging.getLogger(__name__)


@trait
class Settles:
    """A callback object of a compiled class: :class:`Pending` calls its :meth:`settled` as a native
    method, where a callable goes through Python's call protocol (its arguments packed and parsed
    again, and for a bound method an object made when it is taken). A send's ack is one on every
    message's path."""

    __slots__ = ()

    def settled(self, fut: Pending[Any]) -> None:
        raise NotImplementedError


Callback = Callable[["Pending[T]"], None] | Settles


class Pending(Generic[T]):
    """The parts of the ``asyncio.Future`` interface the hot path uses, with synchronous callbacks."""

    __slots__ = ("_done", "_exc", "_first", "_more", "_result")

    def __init__(self) -> None:
        # Almost every Pending has one callback: it is kept in a slot, and a list is made only for more.
        self._first: Callback[T] | None = None
        self._more: list[Callback[T]] | None = None
        self._done = False
        self._result: T | None = None
        self._exc: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False  # nothing cancels a queued commit: once queued, it lands or fails

    def result(self) -> T:
        if not self._done:
            raise asyncio.InvalidStateError("result is not set")
        if self._exc is not None:
            raise self._exc
        return self._result  # type: ignore[return-value]

    def exception(self) -> BaseException | None:
        if not self._done:
            raise asyncio.InvalidStateError("result is not set")
        return self._exc

    def add_done_callback(self, fn: Callback[T]) -> None:
        """Run ``fn(self)`` (``fn.settled(self)`` for a :class:`Settles`) when settled (at once, if it
        already is)."""
        if self._done:
            self._call(fn)
        elif self._first is None:
            self._first = fn
        elif self._more is None:
            self._more = [fn]
        else:
            self._more.append(fn)

    def set_result(self, value: T) -> None:
        self._settle(value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._settle(None, exc)

    def _settle(self, value: T | None, exc: BaseException | None) -> None:
        if self._done:
            raise asyncio.InvalidStateError("already settled")
        self._done, self._result, self._exc = True, value, exc
        first, more = self._first, self._more
        self._first = self._more = None
        if first is not None:
            self._run(first)
        if more is not None:
            for fn in more:
                self._run(fn)

    def _call(self, fn: Callback[T]) -> None:
        if isinstance(fn, Settles):
            fn.settled(self)
        else:
            fn(self)

    def _run(self, fn: Callback[T]) -> None:
        try:
            self._call(fn)
        except Exception:  # one failing callback must not starve the others of the result
            log.exception("callback of a settled result failed")

    def __await__(self) -> Generator[Any, None, T]:
        if not self._done:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.add_done_callback(partial(_wake, fut))
            yield from fut.__await__()
        return self.result()


def _wake(fut: asyncio.Future[None], _: Pending[Any]) -> None:
    if not fut.done():
        fut.set_result(None)
