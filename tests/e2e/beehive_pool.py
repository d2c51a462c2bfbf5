"""beehive end-to-end helpers: accounts, tokens and logged-in clients that are closed after each test."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.clients.beehive import BeehiveClient
from tests.conftest import Server

# Far above the sids /im/register hands out (its sequence starts at 30001), so a test's invented sid is
# never one that another test registered for a different user.
_sids = itertools.count(5_000_001)


def http(
    server: Server,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    method: str = "GET",
    form: dict[str, Any] | None = None,
    data: bytes | None = None,
    token: str | None = None,
    content_type: str | None = None,
) -> tuple[int, Any]:
    """One HTTP request to the server's ``[http]`` listener; returns (status, decoded JSON or text).
    ``form`` is sent as an x-www-form-urlencoded POST body, ``data`` as a raw body."""
    url = f"http://127.0.0.1:{server.http}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        method = "POST"
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


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
