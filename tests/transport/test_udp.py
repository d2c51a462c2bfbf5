"""The UDP listener over real sockets: one pseudo-connection per peer address, each datagram handed
whole to ``feed_message``, each write one datagram; a paused peer's datagrams are queued up to a bound
and the rest dropped; an idle peer is dropped; peers not logged in are capped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from polyim.transport.admission import Admission
from polyim.transport.udp import UdpListener, serve_udp
from tests.transport.echo import Echo


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


@contextlib.asynccontextmanager
async def listening(**options: object) -> AsyncIterator[tuple[UdpListener, int]]:
    listener = await serve_udp("127.0.0.1", 0, Echo, **options)  # type: ignore[arg-type]
    assert listener.transport is not None
    try:
        yield listener, listener.transport.get_extra_info("sockname")[1]
    finally:
        listener.close()


async def client(port: int) -> tuple[asyncio.DatagramTransport, Client]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))


async def test_udp_echo_keeps_one_pseudo_connection_per_peer() -> None:
    async with listening(idle_timeout=60, login_timeout=60) as (listener, port):
        peers = [await client(port) for _ in range(3)]
        for i, (transport, _) in enumerate(peers):
            transport.sendto(f"hello {i}".encode())
            transport.sendto(f"again {i}".encode())
        for i, (_, proto) in enumerate(peers):
            assert await asyncio.wait_for(proto.got.get(), 5) == f"echo:hello {i}".encode()
            assert await asyncio.wait_for(proto.got.get(), 5) == f"echo:again {i}".encode()
        assert len(listener.peers) == 3
        for transport, _ in peers:
            transport.close()


async def test_a_paused_peer_queues_up_to_the_bound_and_drops_the_rest() -> None:
    async with listening(idle_timeout=60, login_timeout=60, max_queued=5) as (listener, port):
        transport, proto = await client(port)
        transport.sendto(b"pause")
        assert await asyncio.wait_for(proto.got.get(), 5) == b"echo:pause"
        for i in range(20):
            transport.sendto(f"{i}".encode())
        # reading resumes 0.2 s after the pause: the 5 queued arrive in order, the 15 others were dropped
        got = [await asyncio.wait_for(proto.got.get(), 5) for _ in range(5)]
        assert got == [f"echo:{i}".encode() for i in range(5)]
        (peer,) = listener.peers.values()
        assert peer.dropped == 15
        transport.sendto(b"after")
        assert await asyncio.wait_for(proto.got.get(), 5) == b"echo:after"
        transport.close()


async def test_an_idle_peer_is_dropped_and_peers_not_logged_in_are_capped() -> None:
    admission = Admission("udp test", 100, 2)
    async with listening(idle_timeout=0.5, login_timeout=60, admission=admission) as (listener, port):
        first, second, third = [await client(port) for _ in range(3)]
        for transport, _ in (first, second, third):
            transport.sendto(b"hi")
        assert await asyncio.wait_for(first[1].got.get(), 5) == b"echo:hi"
        assert await asyncio.wait_for(second[1].got.get(), 5) == b"echo:hi"
        await asyncio.sleep(0.2)
        assert third[1].got.empty() and len(listener.peers) == 2  # past the cap of 2 per address
        first[0].sendto(b"login")  # a logged-in peer frees its slot...
        assert await asyncio.wait_for(first[1].got.get(), 5) == b"echo:login"
        third[0].sendto(b"hi")  # ...so the third is admitted now
        assert await asyncio.wait_for(third[1].got.get(), 5) == b"echo:hi"
        assert admission.pending == 2
        lost_before = len(Echo.lost)
        await asyncio.sleep(1.0)  # first is idle past 0.5 s: its idle deadline drops it
        assert len(Echo.lost) > lost_before
        assert first[0].get_extra_info("sockname") not in listener.peers
        for transport, _ in (first, second, third):
            transport.close()
