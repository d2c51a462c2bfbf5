"""A lean XMMEP load client (xmmep.md §2, §3.3, §3.8), over TCP (``xmmep``) or UDP (``xmmep-udp``).

It logs in with 112 and ``ext=ack`` (the password, or a polyim token, which the core accepts as one),
answers the login sequence's 127 with CLIENT_READY, sends 170 with ``cid=<n>`` so that each 171 names
the send it acknowledges, reads the tag from the content of delivered 170s and confirms their ``mid`` with
172 when receipts are on. Keep-alives are 200s, echoed by the server. Over UDP every message is one
datagram: the writes of a loop turn leave one by one, never joined.
"""

from __future__ import annotations

import asyncio
from typing import Any

from polyim.bench.load import Link, LoadSession, RunState, SessionSpec, now_us
from polyim.protocols.xmmep import codec as c

_RATE_LIMITED = 20


class UdpLink(Link, asyncio.DatagramProtocol):
    """The session's UDP socket, connected to the server's address: one datagram, one message."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.session.link is self:
            self.session.received(data)
            self.session.flush_replies()

    def error_received(self, exc: Exception) -> None:
        """An ICMP error for an earlier datagram: the login or the drain timeout decides."""


class XmmepSession(LoadSession):
    """One XMMEP peer of the load."""

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        super().__init__(spec, state)
        self.udp = spec.protocol == "xmmep-udp"
        self.decoder = c.Decoder()
        self._ping = c.encode(c.Code.KEEP_ALIVE, [spec.username])

    def reset_stream(self) -> None:
        self.decoder = c.Decoder()

    def port(self) -> int:
        return self.state.plan.ports["xmmep udp" if self.udp else "xmmep"]

    def login_frame(self) -> bytes:
        return c.encode(c.Code.LOGIN_REQ, [self.spec.username, self.spec.secret, 0], [("ext", "ack")])

    def message_frame(self, n: int, tag: str) -> bytes:
        text = tag + " " + "x" * max(0, self.state.plan.msg_size - len(tag) - 1)
        return c.encode(c.Code.TXT_MSG, [self.spec.username, self.spec.to, 0, text, 0], [("cid", str(n))])

    def ping_frame(self) -> bytes:
        return self._ping

    # -- the UDP socket ---------------------------------------------------------------------------------
    async def open(self, timeout: float) -> bool:
        if not self.udp:
            return await super().open(timeout)
        self.drop()
        self.logged_in = False
        self.ping_us = self.keepalives = 0
        start = now_us()
        self.waiter = self._loop.create_future()
        link = UdpLink(self)
        self.link = link
        local = (self.spec.local_addr or "0.0.0.0", 0)
        host = self.state.plan.host
        await self._loop.create_datagram_endpoint(
            lambda: link, local_addr=local, remote_addr=(host, self.port())
        )
        self.write(self.login_frame())
        try:
            async with asyncio.timeout(timeout):
                code = await self.waiter
        except TimeoutError:
            code = -1
        return self._login_done(code, start)

    def _flush(self) -> None:
        if not self.udp:
            super()._flush()
            return
        self._flush_scheduled = False
        link = self.link
        if link is not None and link.transport is not None:
            transport: asyncio.DatagramTransport = link.transport  # type: ignore[assignment]
            for datagram in self._out:
                transport.sendto(datagram)
        self._out.clear()

    # -- input ------------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        keepalives = self.keepalives
        try:
            frames = [c.decode_datagram(data)] if self.udp else self.decoder.feed(data)
        except c.XmmepDecodeError:
            self.report.error("bad message from server")
            return
        for frame in frames:
            self._message(frame.code, frame.body)
        self.heard(len(frames), keepalives)

    def _message(self, code: int, body: bytes) -> None:
        fields = body.split(b"\x01")
        if code == c.Code.TXT_MSG_RES:
            self.acked(int(fields[5]), int(fields[1]))
        elif code == c.Code.TXT_MSG:
            mid = fields[-1][4:].decode() if fields[-1].startswith(b"mid=") else ""
            if self.state.plan.receipts and mid:
                self.write(c.encode(c.Code.TXT_MSG_RECV, [self.spec.username, 1, [mid]]))
            self.delivered(fields[3].split(b" ", 1)[0].decode(errors="replace"))
        elif code == c.Code.KEEP_ALIVE:
            self.pong()
        elif code == c.Code.LOGIN_RES1 and body != b"0" and not body.startswith(b"0\x01"):
            self.login_result(int(fields[0]))
        elif code == c.Code.LOGIN_RES_END:
            self.write(c.encode(c.Code.CLIENT_READY, [self.spec.username]))
            self.login_result(0)
        elif code == c.Code.SESSION_REPORT and body == b"16":
            self.kicked()
        elif code == c.Code.ERROR_REPORT and fields[0] == b"%d" % _RATE_LIMITED:
            self.slow_down()
