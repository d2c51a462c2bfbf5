"""beehive end-to-end helpers: accounts, tokens and logged-in clients that are closed after each test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from tests.clients.beehive import BeehiveClient
from tests.conftest import Server

_sids = itertools.count(30001)


class Beehive:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.clients: list[BeehiveClient] = []

    def token(self, uid: int, sid: int, ttl: int | None = None) -> str:
        req: dict[str, object] = {"uid": uid, "device": str(sid)}
        if ttl is not None:
            req["ttl"] = ttl
        status, body = self.server.api("POST", "/api/v1/tokens", req)
        assert status == 200, body
        return str(body["token"])

    async def connect(self, sid: int | None = None, *, ws: bool = False) -> BeehiveClient:
        sid = next(_sids) if sid is None else sid
        if ws:
            url = f"http://127.0.0.1:{self.server.beehive_ws}/im"
            client = await BeehiveClient.websocket(url, sid)
        else:
            client = await BeehiveClient.tcp("127.0.0.1", self.server.beehive_tcp, sid)
        self.clients.append(client)
        return client

    async def login(
        self, uid: int, *, sid: int | None = None, ws: bool = False, terminal: int | None = 1
    ) -> BeehiveClient:
        client = await self.connect(sid, ws=ws)
        ack = await client.online(uid, self.token(uid, client.sid), terminal=terminal)
        assert ack.code == 0, ack
        return client

    async def user(self, prefix: str = "bh", *, ws: bool = False) -> BeehiveClient:
        uid, _ = self.server.add_user(prefix)
        return await self.login(uid, ws=ws)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture
async def beehive(server: Server) -> AsyncIterator[Beehive]:
    pool = Beehive(server)
    yield pool
    await pool.close()
