"""Helpers shared by the OMTP end-to-end tests: logged-in clients that are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.clients.imlc import ImlcClient
from tests.clients.omtp import DeviceType, OmtpClient
from tests.clients.teamtalk import PC, TeamTalkClient
from tests.clients.xmmep import XmmepClient
from tests.conftest import Server, start_server, write_config

TUNED_OMTP = "require_friend = true\nidle_timeout = 1\nlogin_timeout = 1\n"


class Omtp:
    """Opens OMTP connections to ``server`` and closes all of them at the end of the test."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[OmtpClient] = []
        self.names: dict[str, str] = {}  # decimal uid -> username

    async def connect(self) -> OmtpClient:
        client = await OmtpClient.connect("127.0.0.1", self.server.omtp)
        self.clients.append(client)
        return client

    async def login(
        self,
        name: str,
        *,
        password: str = "pw",
        device_id: str = "pc-1",
        device_type: int = DeviceType.WINDOWS,
    ) -> OmtpClient:
        client = await self.connect()
        code, _ = await client.login(
            user_name=name, password=password, device_id=device_id, device_type=device_type
        )
        assert code == 0, client.login_resp
        return client

    async def user(
        self,
        prefix: str = "u",
        *,
        device_id: str = "pc-1",
        device_type: int = DeviceType.WINDOWS,
        **extra: object,
    ) -> OmtpClient:
        """A new account, logged in; ``client.uid`` is its decimal uid, ``name_of(client)`` its username."""
        uid, name = self.server.add_user(prefix, **extra)
        self.names[str(uid)] = name
        return await self.login(name, device_id=device_id, device_type=device_type)

    def name_of(self, client: OmtpClient) -> str:
        return self.names[client.uid]

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class Imlc:
    """Opens imlc connections to ``server`` and closes all of them at the end of the test."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[ImlcClient] = []

    async def connect(self) -> ImlcClient:
        client = await ImlcClient.connect("127.0.0.1", self.server.imlc)
        self.clients.append(client)
        return client

    async def login(self, name: str, *, device_id: str = "dev-1", device_class: int = 2) -> ImlcClient:
        client = await self.connect()
        reply = await client.login(
            username=name, password="pw", device_id=device_id, device_class=device_class
        )
        assert reply.status == 0, reply
        return client

    async def user(self, prefix: str = "u", **extra: object) -> tuple[ImlcClient, str]:
        """A new account, logged in over imlc; returns the client and the username."""
        _, name = self.server.add_user(prefix, **extra)
        return await self.login(name), name

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class Xmmep:
    """Opens XMMEP peers (TCP connections or UDP sockets) to ``server``, closed at the end of the test."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[XmmepClient] = []

    async def connect(self, udp: bool = False) -> XmmepClient:
        port = self.server.xmmep_udp if udp else self.server.xmmep_tcp
        client = await (XmmepClient.over_udp if udp else XmmepClient.tcp)("127.0.0.1", port)
        self.clients.append(client)
        return client

    async def login(self, name: str, *, udp: bool = False, ext: str = "", ready: bool = True) -> XmmepClient:
        client = await self.connect(udp)
        replies = await client.login(name, ext=ext)
        assert replies[-1].code == 127, replies
        if ready:
            await client.ready()
        return client

    async def user(
        self, prefix: str = "x", *, udp: bool = False, ext: str = "", **extra: object
    ) -> XmmepClient:
        """A new account, logged in and READY; ``client.user`` is its username."""
        uid, name = self.server.add_user(prefix, **extra)
        client = await self.login(name, udp=udp, ext=ext)
        client.uid = uid
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


class TeamTalk:
    """Opens TeamTalk msg-server connections to ``server`` and closes all of them at the end of the test."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[TeamTalkClient] = []

    async def connect(self, port: int | None = None) -> TeamTalkClient:
        client = await TeamTalkClient.connect("127.0.0.1", port or self.server.teamtalk_msg)
        self.clients.append(client)
        return client

    async def login(self, name: str, *, client_type: int = PC) -> TeamTalkClient:
        client = await self.connect()
        result, _ = await client.login(name, client_type=client_type)
        assert result == 0
        return client

    async def user(
        self, prefix: str = "t", *, client_type: int = PC, **extra: object
    ) -> tuple[TeamTalkClient, str]:
        """A new account, logged in over TeamTalk; returns the client and the username."""
        _, name = self.server.add_user(prefix, **extra)
        return await self.login(name, client_type=client_type), name

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One default server for the OMTP functional modules, which override ``server`` with it: every test
    makes its own users, so they can share a process, and server start-up is most of their cost."""
    srv = start_server(tmp_path_factory.mktemp("shared"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tuned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server with non-default ``[omtp]`` keys: ``TUNED_OMTP`` (friendship required, 1 s timeouts)."""
    tmp = tmp_path_factory.mktemp("tuned")
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    assert "[omtp]\n" in text
    cfg.write_text(text.replace("[omtp]\n", "[omtp]\n" + TUNED_OMTP, 1), encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


@pytest.fixture
async def omtp(server: Server) -> AsyncIterator[Omtp]:
    pool = Omtp(server)
    yield pool
    await pool.close()


@pytest.fixture
async def xmmep(server: Server) -> AsyncIterator[Xmmep]:
    pool = Xmmep(server)
    yield pool
    await pool.close()


@pytest.fixture
async def imlc(server: Server) -> AsyncIterator[Imlc]:
    pool = Imlc(server)
    yield pool
    await pool.close()


@pytest.fixture
async def teamtalk(server: Server) -> AsyncIterator[TeamTalk]:
    pool = TeamTalk(server)
    yield pool
    await pool.close()


async def nothing(client: OmtpClient) -> None:
    """Assert that ``client`` has no push pending.

    The server writes every push a request causes before that request's response (deliveries happen
    before the ack/answer is written), so after the caller has its answer a PING round trip on
    ``client`` flushes anything that was on its way; then the queue must be empty.
    """
    if not client.closed:
        await client.ping()
    frame = await client.poll_push(0.01)
    assert frame is None, f"unexpected push {frame}"
