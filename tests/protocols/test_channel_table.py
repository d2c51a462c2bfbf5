"""The command table every adapter declares: the state check, one decode of the request, core refusals
through the adapter's table (or the command's own), and the ack that waits for the commit."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from polyim.core.errors import Code, CoreError
from polyim.core.messaging import SendResult
from polyim.model import ConvId, Message
from polyim.pending import Pending
from polyim.protocols.channel import LATER, Channel, Commands, ErrorTable, Refused, State
from tests.protocols.support import NO_CORE, FakeConn

TABLE = Commands()
decoded: list[bytes] = []


def decode(body: bytes) -> str:
    decoded.append(body)
    if body == b"bad":
        raise ValueError("does not decode")
    return body.decode()


@TABLE.on(1, decode, states=State.ANY)
async def _hello(ch: Toy, frame: str, req: str) -> str:
    return f"hello {req}"


@TABLE.on(2, decode)
async def _echo(ch: Toy, frame: str, req: str) -> str:
    if req == "missing":
        raise CoreError(Code.USER_NOT_FOUND, "nobody")
    if req == "closed":
        raise CoreError(Code.FORBIDDEN, "closed")
    return req


@TABLE.on(3, decode, errors={Code.USER_NOT_FOUND: (77, "its own words")})
async def _own(ch: Toy, frame: str, req: str) -> None:
    raise CoreError(Code.USER_NOT_FOUND, "nobody")


@TABLE.on(4, decode)
async def _send(ch: Toy, frame: str, req: str) -> str:
    await asyncio.sleep(0)  # loads what the synchronous handler did not have
    return f"later {req}"


@TABLE.now(4)
def _send_now(ch: Toy, frame: str, req: str) -> object:
    if req.startswith("uncached"):
        return LATER
    if req == "missing":
        raise CoreError(Code.USER_NOT_FOUND, "nobody")
    if req == "bug":
        raise RuntimeError("a handler's bug")
    return f"now {req}"


class Toy(Channel):
    """A protocol of strings: answers and refusals are recorded as ``(code, text)``."""

    protocol = "toy"
    commands = TABLE
    errors: ClassVar[ErrorTable] = {Code.USER_NOT_FOUND: (44, None), Code.INTERNAL: (99, "internal")}
    decode_errors = (ValueError,)

    def __init__(self) -> None:
        super().__init__(NO_CORE, FakeConn())
        self.out: list[tuple[Any, ...]] = []
        self.online = False
        self.gated: list[Any] = []

    def gate(self, frame: Any) -> bool:
        self.gated.append(frame)  # a gate may move the connection's state: it is asked once a frame
        return True

    @property
    def state(self) -> int:
        return State.ONLINE.value if self.online else State.CONNECTED.value

    def wrong_state(self, cmd: int) -> Refused:
        return Refused(1, "log in first", close=True)

    def unknown(self, cmd: int) -> Refused:
        return Refused(2, "unknown")

    def undecodable(self, exc: Exception) -> Refused:
        return Refused(3, str(exc))

    def refuse(self, frame: Any, request: Any, exc: Refused) -> None:
        self.out.append(("refused", exc.code, exc.text, request))

    def answer(self, frame: Any, reply: Any) -> None:
        self.out.append(("answer", reply))

    def committed(self, frame: Any, request: Any, result: SendResult) -> None:
        self.out.append(("ack", frame, request))

    def commit_failed(self, frame: Any, request: Any) -> None:
        self.out.append(("failed", frame, request))


async def test_a_command_outside_its_states_is_refused_in_the_adapters_words() -> None:
    ch = Toy()
    decoded.clear()
    await ch.dispatch(2, "f", b"x")
    assert ch.out == [("refused", 1, "log in first", None)] and ch.conn.closing
    assert decoded == []  # nothing is decoded for a command refused by its state


async def test_the_request_is_decoded_once_and_handed_to_the_handler() -> None:
    ch = Toy()
    decoded.clear()
    await ch.dispatch(1, "f", b"world")
    assert ch.out == [("answer", "hello world")] and decoded == [b"world"]
    await ch.dispatch(1, "f", b"bad")
    assert ch.out[-1] == ("refused", 3, "does not decode", None)
    ch.online = True  # an unknown command is judged like any command a session may send
    await ch.dispatch(9, "f", b"")
    assert ch.out[-1] == ("refused", 2, "unknown", None)


async def test_core_refusals_go_through_the_adapters_table_or_the_commands_own() -> None:
    ch = Toy()
    ch.online = True
    await ch.dispatch(2, "f", b"missing")
    assert ch.out[-1] == ("refused", 44, "nobody", "missing")  # the core's text where the table has none
    await ch.dispatch(2, "f", b"closed")
    assert ch.out[-1] == ("refused", 99, "internal", "closed")  # unmapped: as INTERNAL
    await ch.dispatch(3, "f", b"x")
    assert ch.out[-1] == ("refused", 77, "its own words", "x")
    assert not ch.conn.closing


async def test_the_ack_waits_for_the_commit_and_a_failed_commit_gets_the_adapters_answer() -> None:
    ch = Toy()
    ok: Pending[SendResult] = Pending()
    ch.ack_after_commit(ok, "f1", "r1")
    assert ch.out == []
    ok.set_result(SendResult(Message(ConvId.peer(1, 2), 1, 1, 1, "d", "c", 1, "hi", 0), duplicate=False))
    assert ch.out == [("ack", "f1", "r1")]
    bad: Pending[SendResult] = Pending()
    ch.ack_after_commit(bad, "f2", "r2")
    bad.set_exception(OSError("disk full"))
    assert ch.out[-1] == ("failed", "f2", "r2")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_command_with_a_synchronous_handler_is_answered_in_the_callers_stack() -> None:
    ch = Toy()
    ch.online = True
    ch.submit_frame(4, "f", b"x")
    assert ch.out == [("answer", "now x")]  # before any loop turn
    ch.submit_frame(4, "f", b"missing")
    assert ch.out[-1] == ("refused", 44, "nobody", "missing")
    ch.submit_frame(4, "f", b"bad")
    assert ch.out[-1] == ("refused", 3, "does not decode", None)
    assert not ch.conn.closing


async def test_later_hands_the_frame_to_the_coroutine_and_what_follows_waits_its_turn() -> None:
    ch = Toy()
    ch.online = True
    ch.submit_frame(4, "f1", b"uncached 1")
    ch.submit_frame(4, "f2", b"y")  # cached, but behind a frame that is still being handled
    assert ch.out == []
    await settle()
    assert ch.out == [("answer", "later uncached 1"), ("answer", "later y")]
    assert ch.gated == ["f1", "f2"]
    ch.submit_frame(4, "f", b"z")  # nothing ahead any more
    assert ch.out[-1] == ("answer", "now z")


async def test_the_synchronous_path_keeps_the_state_check_and_closes_on_a_bug() -> None:
    ch = Toy()
    ch.submit_frame(4, "f", b"x")  # not logged in: refused by the coroutine path, in order
    await settle()
    assert ch.out == [("refused", 1, "log in first", None)] and ch.conn.closing
    ch = Toy()
    ch.online = True
    ch.submit_frame(4, "f", b"bug")
    assert ch.out == [] and ch.conn.closing
