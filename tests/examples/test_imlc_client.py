"""``examples/imlc_client.py`` against a real server, driven as a user would drive it: lines on stdin,
events on stdout. An OMTP user answers it; the next start logs in with the stored token and catches
up what was sent while it was away."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clients.omtp import OmtpClient
from tests.conftest import Server
from tests.e2e.conftest import Omtp

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "imlc_client.py"


class Example:
    """The example as a subprocess: ``say`` types a line, ``expect`` waits for an output line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[str] = []

    @classmethod
    async def start(cls, server: Server, user: str, state: Path, *password: str) -> Example:
        argv = [str(EXAMPLE), "--user", user, "--port", str(server.imlc), "--state", str(state)]
        if password:
            argv += ["--password", *password]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        return cls(proc)

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def expect(self, start: str, timeout: float = 10) -> str:
        """The next output line that starts with ``start`` (earlier ones are kept in ``seen``)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while raw := await self.proc.stdout.readline():
                line = raw.decode().rstrip("\n")
                self.seen.append(line)
                if line.startswith(start):
                    return line
        raise AssertionError(f"the example ended without {start!r}; it printed {self.seen}")

    async def finish(self, timeout: float = 10) -> int:
        """End of input: the example logs out and exits."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        async with asyncio.timeout(timeout):
            return await self.proc.wait()


@pytest.fixture
async def omtp(server: Server) -> AsyncIterator[Omtp]:
    pool = Omtp(server)
    yield pool
    await pool.close()


async def test_chat_with_an_omtp_user_then_catch_up_after_being_offline(
    server: Server, omtp: Omtp, tmp_path: Path
) -> None:
    uid, alice = server.add_user("alice")
    bob: OmtpClient = await omtp.user("bob")
    state = tmp_path / "alice.json"

    example = await Example.start(server, alice, state, "pw")
    assert await example.expect("logged in") == f"logged in uid={uid} username={alice} via=password"
    example.say(f"/to {bob.uid}")
    example.say("hello bob")
    assert await example.expect("sent") == f"sent user:{bob.uid} seq=1"
    _, msg = await bob.expect_msg()
    assert (msg.from_, msg.content) == (str(uid), "hello bob")
    assert (await bob.send_single(str(uid), "hi alice")).ok
    assert await example.expect("recv") == f"recv user:{bob.uid} seq=2 from={bob.uid}: hi alice"
    example.say("/quit")
    assert await example.finish() == 0

    assert (await bob.send_single(str(uid), "while you were away")).ok  # alice is offline
    again = await Example.start(server, alice, state)  # no password: the stored token
    assert await again.expect("logged in") == f"logged in uid={uid} username={alice} via=token"
    assert await again.expect("sync") == "sync: 1 conversation(s) with new messages"
    assert await again.expect("recv") == f"recv user:{bob.uid} seq=3 from={bob.uid}: while you were away"
    assert await again.finish() == 0
    assert not any(line.startswith("recv") and "seq=2" in line for line in again.seen)  # held already
