"""Helpers shared by the OMTP end-to-end tests: logged-in clients that are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.clients.omtp import DeviceType, OmtpClient
from tests.conftest import Server


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


@pytest.fixture
async def omtp(server: Server) -> AsyncIterator[Omtp]:
    pool = Omtp(server)
    yield pool
    await pool.close()
