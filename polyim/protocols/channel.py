"""What every protocol adapter shares: ordered frame handling, the session's life, event dispatch.

An adapter subclasses :class:`Channel`, decodes bytes with its codec, and passes each frame to
:meth:`Channel.submit` with the coroutine that handles it. Frames of one connection are handled one
after another (a LOGIN must finish before the next frame is looked at), but no handler waits for a
commit: a send queues its commit and attaches the ack as a callback, so a client may pipeline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from mypy_extensions import mypyc_attr

from polyim.cluster.base import SessionId
from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.events import Event, KickReason
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.sessions import Session, Sink
from polyim.logctx import LogContext, bind, scoped
from polyim.model import ConvId, DeviceClass, Role
from polyim.pending import Pending, Settles
from polyim.transport.connection import ConnBase

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[None]]
# Event type → the adapter's renderer, called as ``renderer(channel, event)``.
EventTable = dict[type, Callable[[Any, Any], None]]
# Event type → a fan-out that writes it to many of the adapter's connections from one rendering.
FanoutTable = dict[type, Callable[[Sequence[Sink], Any], bool]]

# Tasks that outlive their connection (presence announcements after a disconnect) are kept alive here.
_background: set[asyncio.Future[None]] = set()

# Connections with this much unhandled work stop being read until it drains (back-pressure).
_MAX_PENDING: Final = 256


class SessionEnded(Exception):
    """The session a running handler acts for ended while the handler waited: the connection closed (a
    frame behind a LOGIN that failed, a client gone mid-command) or was kicked. Raised by
    :attr:`Channel.me` and :attr:`Channel.live_session`; the rest of the command is dropped quietly, as
    the connection it would answer is closing."""


@mypyc_attr(allow_interpreted_subclasses=True)  # adapters refine it (imlc: Later)
class Refused(Exception):
    """A refusal in the adapter's own words: its wire ``code`` and ``text``, answered by the adapter's
    :meth:`Channel.refuse`; ``close`` ends the connection after the answer. ``code`` None answers
    nothing (the command is dropped, or the connection closed with ``close``)."""

    def __init__(self, code: int | None, text: str = "", *, close: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.close = close


class State(enum.IntFlag):
    """Where a connection is in its life; a command names the states it is allowed in. Checked for
    every frame as plain ints (:data:`STATE_CONNECTED`, :data:`STATE_ONLINE`): an ``enum.Flag`` ``&`` costs
    0.45 µs, an int's 0.01 µs."""

    CONNECTED = 1  # before login
    ONLINE = 2  # a session is attached
    ANY = 3  # CONNECTED | ONLINE, spelled out: mypyc miscompiles members computed from members


# Final, each on its own: compiled code holds them in statics, where a name unpacked from one tuple is a
# globals lookup at every frame. An adapter that decides "online" itself returns them from ``state``.
STATE_CONNECTED: Final = int(State.CONNECTED)
STATE_ONLINE: Final = int(State.ONLINE)


Handler = Callable[[Any, Any, Any], Awaitable[Any]]
# A command's synchronous handler: the reply (None: nothing to answer), or LATER.
NowHandler = Callable[[Any, Any, Any], Any]


class _Later:
    """What a synchronous handler returns when it cannot finish without waiting: it has done nothing,
    and the command's coroutine handler takes the frame instead."""

    __slots__ = ()


LATER: Final = _Later()
# Core refusal → the wire code and its text (None: the core's own text).
ErrorTable = Mapping[Code, tuple[int, str | None]]
_NO_ERRORS: Final[ErrorTable] = {}


@dataclass(frozen=True, slots=True)
class Command:
    """One row of an adapter's table: the handler, how its request body is decoded (None: it has
    none), the states it is allowed in, and where the command words a core refusal its own way, its
    wire codes (over the adapter's :attr:`Channel.errors`)."""

    handler: Handler
    request: Callable[[bytes], Any] | None
    states: int  # State bits
    errors: ErrorTable
    #: The same command done without a coroutine when every fact it needs is at hand (see
    #: :meth:`Channel.submit_frame`); a gate that waits sends the frame to :attr:`handler` instead.
    now: NowHandler | None = None


class Commands(dict[int, Command]):
    """An adapter's table, ``command → Command``, filled by the :meth:`on` decorator."""

    def on(
        self,
        cmd: int,
        request: Callable[[bytes], Any] | None = None,
        states: State = State.ONLINE,
        errors: ErrorTable = _NO_ERRORS,
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self[int(cmd)] = Command(fn, request, int(states), errors)
            return fn

        return register

    def now(self, cmd: int) -> Callable[[NowHandler], NowHandler]:
        """Give the registered ``cmd`` a synchronous handler, called with the same arguments as its
        coroutine handler and before it: it returns the reply, or :data:`LATER` having done nothing."""

        def register(fn: NowHandler) -> NowHandler:
            self[int(cmd)] = dataclasses.replace(self[int(cmd)], now=fn)
            return fn

        return register


@mypyc_attr(allow_interpreted_subclasses=True)
class Channel(Sink):
    """Base of one protocol session (the ``channel`` of EMQX's gateway design).

    It owns what every adapter shares: frames handled in order (:meth:`submit`), one table per adapter
    (:attr:`commands`) through which :meth:`dispatch` checks the state, decodes the request once and
    calls the handler, core refusals mapped to wire codes through :attr:`errors`, the ack that waits for
    the commit (:meth:`ack_after_commit`), the session's life and event rendering. The adapter says in
    its own words how a refusal and an answer look (:meth:`refuse`, :meth:`answer`).
    """

    protocol: ClassVar[str] = ""
    #: What the adapter renders, one table per adapter class. A per-connection dict of bound methods
    #: cost each session about 1 KB, and made every channel a reference cycle for the collector.
    events: ClassVar[EventTable] = {}
    #: The fan-outs that carry the adapter's throughput (:meth:`write_all`).
    fanouts: ClassVar[FanoutTable] = {}
    #: The adapter's commands, with their handlers, request decoders and allowed states.
    commands: ClassVar[Commands] = Commands()
    #: Core refusal → the adapter's wire code, with its text (None: the core's own text).
    errors: ClassVar[ErrorTable] = {}
    #: The exceptions the adapter's request decoders raise for a body that does not decode.
    decode_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, core: Core, conn: ConnBase) -> None:
        self.core = core
        #: The core's messaging, read on every message: an attribute of the (interpreted) core costs a
        #: dictionary lookup at each read, one of this compiled class a load.
        self.messages = core.messages
        # The class's tables, read at every frame and every delivery: through the instance, a class
        # attribute is a lookup in the type's dictionaries; kept here, a load (16 bytes a session).
        self._commands = self.commands
        self._events = self.events
        self.conn = conn
        #: Who this connection's log lines are about, bound once here (``polyim/logctx.py``).
        self.log_context = LogContext(self.protocol, conn.peer)
        conn.log_context = self.log_context
        bind(self.log_context)
        self.session: Session | None = None
        # Made when work first has to wait: an empty deque is 760 bytes, and most sessions never queue.
        self._pending: deque[Work] | None = None
        self._worker: asyncio.Future[None] | None = None
        self._eager = False

    # -- ordered work -----------------------------------------------------------------------------
    def submit(self, work: Work) -> None:
        """Handle ``work`` after the frames before it. With nothing ahead, it starts at once, in the
        caller's stack: a frame whose facts are all cached completes without a task or a loop turn, and
        only one that really waits (for the store, say) is finished by a task."""
        if self._worker is None and not self._pending and not self._eager:
            self._start(work)
            return
        if self._pending is None:
            self._pending = deque()
        self._pending.append(work)
        if len(self._pending) > _MAX_PENDING:
            self.conn.pause_reading()

    def _start(self, work: Work) -> None:
        self._eager = True  # work submitted from inside this one queues behind it
        coro = work().__await__()
        try:
            waiting_on = next(coro)
        except StopIteration:
            if self._pending:
                self._worker = asyncio.ensure_future(self._drain_then_idle())
            return
        except Exception:
            self._failed()
            return
        finally:
            self._eager = False
        self._worker = asyncio.ensure_future(self._finish(_Resumed(coro, waiting_on)))

    async def _drain_then_idle(self) -> None:
        try:
            await self._drain()
        finally:
            self._worker = None

    async def _finish(self, started: _Resumed) -> None:
        try:
            try:
                await started
            except Exception:
                self._failed()
            await self._drain()
        finally:
            self._worker = None

    async def _drain(self) -> None:
        while self._pending and not self.conn.closing:
            work = self._pending.popleft()
            try:
                await work()
            except Exception:
                self._failed()
            if self._pending is None or len(self._pending) < _MAX_PENDING // 2:
                self.conn.resume_reading()

    # -- commands ---------------------------------------------------------------------------------
    @property
    def state(self) -> int:
        """The connection's :class:`State` bit."""
        return STATE_ONLINE if self.session is not None else STATE_CONNECTED

    def submit_frame(self, cmd: int, frame: Any, body: bytes) -> None:
        """:meth:`submit` the frame's :meth:`dispatch`. A command with a synchronous handler
        (:meth:`Commands.now`) is first tried without a coroutine, when nothing of the connection is
        waiting ahead of it: the common send then costs no coroutine, task or exception."""
        command = self._commands.get(cmd)
        if command is None or command.now is None or self._busy() or not self.state & command.states:
            self.submit(lambda: self.dispatch(cmd, frame, body))
        else:
            self._dispatch_now(command, frame, body)

    def _busy(self) -> bool:
        return self._worker is not None or bool(self._pending) or self._eager

    @property
    def idle(self) -> bool:
        """Nothing of this connection is queued or running: work done now instead of through
        :meth:`submit` keeps its place in order (an adapter's synchronous fast path asks this)."""
        return not self._busy()

    def _dispatch_now(self, command: Command, frame: Any, body: bytes) -> None:
        """:meth:`dispatch` by ``command.now``. Where it must wait (a gate that waits, or the handler's
        :data:`LATER`), :meth:`_handle` takes the frame on from there, in order: the gate, which may
        have moved the connection's state (beehive's seq floor), is never asked twice."""
        assert command.now is not None
        request: Any = None
        try:
            passed = self.gate(frame)
            if not isinstance(passed, bool):
                gated = passed
                self.submit(lambda: self._handle(command, frame, body, gated))
                return
            if not passed:
                return
            request = self._request(command, body)
            reply = command.now(self, frame, request)
        except (Refused, CoreError) as exc:
            self._refused_by(command, frame, request, exc)
            return
        except Exception:
            self._failed()  # as a coroutine handler's failure: logged, counted, the connection closed
            return
        if reply is LATER:
            self.submit(lambda: self._handle(command, frame, body, True))
        elif reply is not None:
            self.answer(frame, reply)

    async def dispatch(self, cmd: int, frame: Any, body: bytes) -> None:
        """Handle one command frame: its state, the adapter's :meth:`gate`, its request decoded once,
        its handler; a refusal (the adapter's, or the core's through :attr:`errors`) is answered by
        :meth:`refuse`, a handler's result by :meth:`answer`."""
        command = self.commands.get(cmd)
        try:
            if not self.state & (command.states if command is not None else STATE_ONLINE):
                raise self.wrong_state(cmd)
            passed = self.gate(frame)
            if command is None:
                if passed if isinstance(passed, bool) else await passed:
                    raise self.unknown(cmd)
                return
        except (Refused, CoreError) as exc:
            self._refused_by(command, frame, None, exc)
            return
        await self._handle(command, frame, body, passed)

    async def _handle(
        self, command: Command, frame: Any, body: bytes, passed: bool | Awaitable[bool]
    ) -> None:
        """The rest of :meth:`dispatch` once the gate has been asked (``passed``, or what to await)."""
        request: Any = None
        try:
            if not (passed if isinstance(passed, bool) else await passed):
                return
            request = self._request(command, body)
            reply = await command.handler(self, frame, request)
        except (Refused, CoreError) as exc:
            self._refused_by(command, frame, request, exc)
            return
        if reply is not None:
            self.answer(frame, reply)

    def _request(self, command: Command, body: bytes) -> Any:
        """The command's request decoded from ``body`` (None for a command without one)."""
        if command.request is None:
            return None
        try:
            return command.request(body)
        except self.decode_errors as exc:
            self.count_error("bad_frame")
            raise self.undecodable(exc) from exc

    def _refused_by(
        self, command: Command | None, frame: Any, request: Any, exc: Refused | CoreError
    ) -> None:
        if isinstance(exc, CoreError):
            exc = self.refusal(exc, command.errors if command is not None else _NO_ERRORS)
        self.refused(frame, request, exc)

    def refusal(self, exc: CoreError, own: ErrorTable = _NO_ERRORS) -> Refused:
        """The core's refusal in the command's words (``own``), else the adapter's (:attr:`errors`);
        unmapped codes as INTERNAL."""
        code, text = own.get(exc.code) or self.errors.get(exc.code) or self.errors[Code.INTERNAL]
        return Refused(code, exc.text if text is None else text)

    def refused(self, frame: Any, request: Any, exc: Refused) -> None:
        if exc.code is not None:
            self.refuse(frame, request, exc)
        if exc.close:
            self.conn.close()

    async def send_and_ack(self, frame: Any, request: Any, out: Outgoing, policy: SendPolicy) -> None:
        """Queue the commit of the session's ``out`` under the protocol's ``policy``; its ack (or
        :meth:`commit_failed`) follows the commit, without holding up the frames behind it."""
        assert self.session is not None
        result = await self.messages.send(self.session, out, self.protocol, policy)
        self.ack_after_commit(result, frame, request)

    def send_and_ack_now(self, frame: Any, request: Any, out: Outgoing, policy: SendPolicy) -> object:
        """:meth:`send_and_ack` for a :meth:`Commands.now` handler: without a coroutine, or
        :data:`LATER` (nothing done) when the core must first load a fact."""
        session = self.session
        assert session is not None
        # the session's own copy of the protocol's name: ``self.protocol``, a class attribute, is a
        # lookup through the type at each read
        result = self.messages.send_now(session, out, session.protocol, policy)
        if result is None:
            return LATER
        self.ack_after_commit(result, frame, request)
        return None

    def delivered(self, conv: ConvId, seq: int) -> None:
        """A receipt of the session's user, for a :meth:`Commands.now` handler: the delivered cursor
        moves now, or after the frames ahead when the core must first load who may receive (a group
        whose members are not cached)."""
        assert self.session is not None
        uid = self.session.uid
        if not self.messages.mark_delivered_now(uid, conv, seq):
            self.submit(functools.partial(self.messages.mark_delivered, uid, conv, seq))

    def ack_after_commit(self, result: Pending[SendResult], frame: Any, request: Any) -> None:
        """Answer a send once its commit has landed (design.md §4: an ack follows durability) with the
        adapter's :meth:`committed`, or :meth:`commit_failed`; the frames behind it are not held up
        meanwhile. One callback per send: this runs for every message."""
        result.add_done_callback(_Ack(self, frame, request))

    def settled(self, fut: Pending[SendResult], frame: Any, request: Any) -> None:
        """The ack (or the failure) of the send ``frame`` made, now that its commit is settled."""
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self.count_error("commit")
            with scoped(self.log_context):  # settled in the writer's callback, not this connection's
                log.error("%s %s: commit failed: %s", self.protocol, self.conn.peer, exc)
            self.commit_failed(frame, request)
        else:
            self.committed(frame, request, fut.result())

    # -- what each adapter says in its own words ------------------------------------------------------
    def gate(self, frame: Any) -> bool | Awaitable[bool]:
        """The adapter's checks of every frame after its state (header fields, rate limits); False
        drops the frame (the gate answered it), a :class:`Refused` refuses it. A gate that must wait
        (for the store, say) returns an awaitable; the common frame passes without a coroutine."""
        return True

    def wrong_state(self, cmd: int) -> Refused:
        return Refused(None, close=True)

    def unknown(self, cmd: int) -> Refused:
        raise NotImplementedError

    def undecodable(self, exc: Exception) -> Refused:
        raise NotImplementedError

    def refuse(self, frame: Any, request: Any, exc: Refused) -> None:
        """Write the command's refusal with ``exc.code`` (``request`` is None when it did not decode)."""
        raise NotImplementedError

    def answer(self, frame: Any, reply: Any) -> None:
        """Write what a handler returned as the command's answer."""
        raise NotImplementedError

    def committed(self, frame: Any, request: Any, result: SendResult) -> None:
        """Write the ack of a send whose commit has landed."""
        raise NotImplementedError

    def commit_failed(self, frame: Any, request: Any) -> None:
        """Write the answer to a send whose commit failed (nothing was stored)."""
        raise NotImplementedError

    def count_error(self, kind: str) -> None:
        """Count an error of ``kind`` for ``/metrics`` (``polyim_errors_total``): ``bad_frame`` for input
        the codec or the request decoder refused, ``handler``, ``commit``, ``render`` here. Never on the
        path of a good frame."""
        self.core.stats.error(self.protocol, kind)

    def _failed(self) -> None:
        if isinstance(sys.exc_info()[1], SessionEnded) and self.conn.closing:
            log.info("%s %s: session ended under a running command", self.protocol, self.conn.peer)
            return
        self.count_error("handler")
        log.exception("%s %s: handler failed", self.protocol, self.conn.peer)
        self.conn.close()

    # -- session life -----------------------------------------------------------------------------
    def new_session(
        self, uid: int, role: Role, device_id: str, device_class: DeviceClass, device_type: int = 0
    ) -> Session:
        return Session(
            uid=uid,
            device_id=device_id,
            device_class=device_class,
            protocol=self.protocol,
            sink=self,
            role=role,
            device_type=device_type,
            peer_addr=self.conn.peer.rsplit(":", 1)[0],
            log_context=self.log_context,
        )

    @property
    def live_session(self) -> Session:
        """The session, for a command that runs only while logged in. After an ``await`` it may have
        ended: then :class:`SessionEnded` stops the command (see :meth:`_failed`)."""
        session = self.session
        if session is None:
            raise SessionEnded
        return session

    @property
    def me(self) -> int:
        """The session's user (:attr:`live_session`)."""
        return self.live_session.uid

    @property
    def sid(self) -> SessionId | None:
        """This connection's session id, to name it (``skip=``) in the core's calls."""
        return self.session.sid if self.session is not None else None

    async def go_online(self, session: Session) -> None:
        """Make ``session`` this connection's identity and apply the kick policy. A connection that
        closed while its login was being checked never goes online: attached then, the session would
        outlive it (shown online, kicking the user's next login of its class)."""
        if self.conn.closing:
            raise SessionEnded
        old = self.session
        if old is not None:
            await self.core.accounts.detach(old)
        self.session = session
        self.log_context.uid = session.uid
        self.conn.logged_in = True
        await self.core.accounts.attach(session)

    def connection_lost(self) -> None:
        self._pending = None
        session, self.session = self.session, None
        if session is not None:
            task = asyncio.ensure_future(self.core.accounts.detach(session))
            _background.add(task)
            task.add_done_callback(_background.discard)

    # -- the Sink interface -------------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        render = self._events.get(type(event))
        if render is None or self.conn.closing:
            return
        try:
            render(self, event)
        except Exception:
            # A renderer's bug costs this connection only, never the sessions after it in a fan-out. The
            # event is stored or live state, so the client that reconnects syncs what it missed here.
            self.count_error("render")
            with scoped(self.log_context):  # rendered in the sender's context
                log.exception(
                    "%s %s: could not render %s, closing", self.protocol, self.conn.peer, type(event).__name__
                )
            self.conn.close()

    @classmethod
    def deliver_all(cls, sinks: Sequence[Sink], event: Event) -> None:
        """A fan-out: rendered once for all connections where the adapter can (:meth:`write_all`),
        else connection by connection. If the shared rendering fails, each connection renders its own
        (and only a connection whose own rendering fails is closed)."""
        try:
            if cls.write_all(sinks, event):
                return
        except Exception:
            log.exception(
                "%s: fan-out of %s failed, delivering one by one", cls.protocol, type(event).__name__
            )
        for sink in sinks:
            sink.deliver(event)

    @classmethod
    def write_all(cls, sinks: Sequence[Sink], event: Event) -> bool:
        """Write ``event`` to all ``sinks`` from one rendering; False when this adapter has no such
        path for the event. Adapters override it for the fan-outs that carry their throughput. An
        override renders every connection's frame before it writes any, so that if it raises,
        :meth:`deliver_all`'s fallback sends nobody a frame twice."""
        fan_out = cls.fanouts.get(type(event))
        return fan_out is not None and fan_out(sinks, event)

    def kick(self, reason: KickReason) -> None:
        log.info("%s %s: kicked (%s)", self.protocol, self.conn.peer, reason.value)
        self.session = None
        self.send_kick(reason)
        self.conn.close()

    def send_kick(self, reason: KickReason) -> None:
        """Write the protocol's own kick frame; the connection is closed right after."""

    def timed_out(self, logged_in: bool) -> None:
        log.info("%s %s: %s timeout", self.protocol, self.conn.peer, "idle" if logged_in else "login")
        self.conn.close()

    def writing_paused(self) -> None:
        """The connection's write buffer is past its high-water mark. A channel that relays another
        connection's input here (a file relay) pauses that source; the default relays nothing, and a
        consumer that keeps falling behind is cut by the transport's slow-consumer limit."""

    def writing_resumed(self) -> None:
        """The write buffer drained: a relaying channel resumes its source."""


class _Ack(Settles):
    """:meth:`Channel.settled` of one send, as its result's callback: an object, where a lambda and its
    environment were two, called natively (this runs for every message)."""

    __slots__ = ("channel", "frame", "request")

    def __init__(self, channel: Channel, frame: Any, request: Any) -> None:
        self.channel = channel
        self.frame = frame
        self.request = request

    def settled(self, fut: Pending[SendResult]) -> None:
        self.channel.settled(fut, self.frame, self.request)


class _Resumed:
    """The rest of a coroutine that was started in the caller's stack and then suspended on
    ``waiting_on``: awaiting this hands that future to the awaiting task and carries on from there (what
    Python 3.12's eager tasks do)."""

    __slots__ = ("coro", "waiting_on")

    def __init__(self, coro: Generator[Any, None, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, None]:
        coro, value = self.coro, self.waiting_on
        while True:
            try:
                yield value
            except BaseException as exc:  # a cancellation of the task goes into the coroutine
                try:
                    value = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    value = coro.send(None)
                except StopIteration:
                    return


class RateLimit:
    """Per-connection token bucket (design.md §7). ``take`` answers None (allowed), "refuse" (answer with
    the protocol's refusal) or "close" (the excess has lasted ``close_after`` seconds)."""

    __slots__ = ("burst", "close_after", "excess_since", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float, close_after: float) -> None:
        self.rate = rate
        self.burst = burst
        self.close_after = close_after
        self.tokens = burst
        self.last = 0.0
        self.excess_since: float | None = None

    def take(self, now: float) -> str | None:
        if self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.excess_since = None
            return None
        if self.excess_since is None:
            self.excess_since = now
        return "close" if now - self.excess_since >= self.close_after else "refuse"
