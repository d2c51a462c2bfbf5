"""beehive node reports (beehive.md §4.6): LSND-INFO per listener and FRWD-INFO per node.

In the original these were frames between its internal processes; in polyim each node writes the same
facts, as the encoded message bodies, into the core's node registry every 5 s (``core.nodes``), and no
client ever sends or receives them (the codec's command roles refuse them with ERROR 10005).
``/im/iplist`` picks a gateway from the LSND-INFO records, ``/im/config`` lists both kinds.

Addresses (§6.2): ``advertise_tcp`` / ``advertise_ws`` when set, else the host of ``[server] advertise``
with the listener's bound port, else the listen address; a wildcard host stays in the record and is
replaced, per request, by the host the HTTP request was addressed to. TCP hosts are dotted IPv4 (the
original C SDK connects with ``inet_pton(AF_INET)``), so names are resolved here, once, at start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any

from polyim.config import ServerSettings, parse_hostport
from polyim.core.app import Core
from polyim.core.nodes import Nodes
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive import codec as c
from polyim.protocols.beehive.settings import BeehiveSettings

LSND = "beehive.lsnd"
FRWD = "beehive.frwd"
TYPE_TCP = 1
TYPE_WS = 2
WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


@dataclass(frozen=True, slots=True)
class Gateway:
    """One beehive listener of this node: its transport type, advertised address and connections."""

    type: int
    host: str
    port: int
    conns: Sized


def host_of(value: str) -> str:
    """The host of ``host`` or ``host:port`` (IPv6 literals may be bracketed)."""
    if value.startswith("["):
        return value[1 : value.find("]")]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


async def ipv4_of(host: str) -> str | None:
    """``host`` as a dotted IPv4 address (resolving a name), or None."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, family=socket.AF_INET)
    except OSError:
        return None
    return str(infos[0][4][0]) if infos else None


async def advertised(
    cfg: BeehiveSettings, server: ServerSettings, kind: int, host: str, port: int
) -> tuple[str, int]:
    """The address clients are told for a listener bound to ``host:port`` (§6.2)."""
    explicit = cfg.advertise_tcp if kind == TYPE_TCP else cfg.advertise_ws
    if explicit:
        host, port = parse_hostport(explicit)
    elif server.advertise:
        host = host_of(server.advertise)
    if kind == TYPE_TCP and host not in WILDCARDS:
        host = await ipv4_of(host) or host
    return host, port


def reporter(
    cfg: BeehiveSettings, server: ServerSettings, gateways: list[Gateway]
) -> Callable[[Nodes], None]:
    """The node's report: one LSND-INFO per listener, one FRWD-INFO for the node."""

    def report(nodes: Nodes) -> None:
        nid = nodes.node_id
        for gw in gateways:
            info = pb.mesg_lsnd_info(
                type=gw.type,
                nid=nid,
                opid=0,
                nation=cfg.nation,
                ip=gw.host,
                port=gw.port,
                connections=len(gw.conns),
            )
            nodes.put(LSND, f"{nid}:{gw.type}", c.encode_body(info))
        tcp = next((gw for gw in gateways if gw.type == TYPE_TCP), None)
        http = nodes.listener("http", "tcp")
        frwd = pb.mesg_frwd_info(
            nid=nid,
            ip=host_of(server.advertise) if server.advertise else (tcp.host if tcp else ""),
            forward_port=tcp.port if tcp else 0,
            backend_port=http.port if http else 0,
        )
        nodes.put(FRWD, str(nid), c.encode_body(frwd))

    return report


def _decoded(core: Core, kind: str, cls: Any) -> list[tuple[Any, bool]]:
    now = time.monotonic()
    out = []
    for record in core.nodes.records(kind):
        msg = cls()
        msg.ParseFromString(record.value)
        out.append((msg, record.alive(now)))
    return out


def lsnd_records(core: Core) -> list[tuple[Any, bool]]:
    """(mesg_lsnd_info, alive) of every listed LSND-INFO record."""
    return _decoded(core, LSND, pb.mesg_lsnd_info)


def frwd_records(core: Core) -> list[tuple[Any, bool]]:
    """(mesg_frwd_info, alive) of every listed FRWD-INFO record."""
    return _decoded(core, FRWD, pb.mesg_frwd_info)
