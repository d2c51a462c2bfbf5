"""Ids no account, group or room can have (2^63 and above, negatives) inside protocol frames get the
command's own refusal and the connection stays open (issue 16; beehive.md §2.8, omtp.md §9). Before, the
store raised ``OverflowError`` and the connection was closed without a reply."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.clients import beehive as b
from tests.clients.omtp import OmtpClient
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]

TOO_BIG = [2**63, 2**64 - 1]


# -- beehive ------------------------------------------------------------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _with_raw_id(cmd: int, fields: dict[str, Any], name: str, value: int) -> bytes:
    """The body of ``cmd`` with field ``name`` re-sent as ``value`` on the wire: a negative as the int64
    a client casts to uint64, a value past 2^64 as the over-long varint it would take (proto2 keeps the
    last occurrence of a scalar field)."""
    msg = b.body(cmd, **fields)
    for f in msg.DESCRIPTOR.fields:
        if f.is_required and not msg.HasField(f.name):
            setattr(msg, f.name, type(getattr(msg, f.name))())
    number = msg.DESCRIPTOR.fields_by_name[name].number
    raw = value % 2**64 if value < 0 else value
    return msg.SerializeToString() + _varint(number << 3) + _varint(raw)


def _beehive_cases(uid: int, gid: int) -> dict[int, dict[str, Any]]:
    """Every request with an id field, with valid values; the cases below overwrite one id."""
    return {
        b.SYNC: {"uid": uid},
        b.CHAT: {"suid": uid, "duid": uid, "level": 0, "time": 1, "text": "x"},
        b.FRIEND_ADD: {"suid": uid, "duid": uid},
        b.FRIEND_DEL: {"suid": uid, "duid": uid},
        b.BLACKLIST_ADD: {"suid": uid, "duid": uid},
        b.GAG_ADD: {"suid": uid, "duid": uid},
        b.MARK_ADD: {"suid": uid, "duid": uid, "mark": 1},
        b.GROUP_JOIN: {"uid": uid, "gid": gid},
        b.GROUP_QUIT: {"uid": uid, "gid": gid},
        b.GROUP_INVITE: {"uid": uid, "gid": gid, "to": uid},
        b.GROUP_CHAT: {"uid": uid, "gid": gid, "level": 0, "time": 1, "text": "x"},
        b.GROUP_KICK: {"uid": uid, "gid": gid},
        b.GROUP_GAG_ADD: {"uid": uid, "gid": gid},
        b.GROUP_BL_ADD: {"uid": uid, "gid": gid},
        b.GROUP_MGR_ADD: {"uid": uid, "gid": gid},
        b.GROUP_USR_LIST: {"gid": gid, "num": 0},
        b.GROUP_DISMISS: {"uid": uid, "gid": gid},
        b.ROOM_JOIN: {"uid": uid, "rid": 1},
        b.ROOM_QUIT: {"uid": uid, "rid": 1},
        b.ROOM_KICK: {"uid": uid, "rid": 1},
        b.ROOM_DISMISS: {"uid": uid, "rid": 1},
    }


_ID_NAMES = {"uid", "suid", "duid", "to", "gid", "rid", "mark"}


async def _beehive_refused(client: b.BeehiveClient, cmd: int, payload: bytes) -> None:
    reply = await client.request(cmd, payload)
    assert reply.type in (cmd + 1, b.ERROR), reply
    assert reply.msg.code != 0, (hex(cmd), reply.msg)
    pong = await client.ping()
    assert pong.type == b.PONG and not client.closed


async def test_beehive_ids_past_2_63_get_a_refusal_and_the_connection_stays(beehive: Beehive) -> None:
    me = await beehive.user()
    gid = await me.create_group(f"oor{time.time_ns()}")
    cases = _beehive_cases(me.uid, gid)
    for cmd, name in [
        (b.CHAT, "duid"),
        (b.FRIEND_ADD, "duid"),
        (b.GROUP_JOIN, "gid"),
        (b.GROUP_CHAT, "gid"),
        (b.GROUP_USR_LIST, "gid"),
    ]:
        for value in TOO_BIG:
            await _beehive_refused(me, cmd, _with_raw_id(cmd, cases[cmd], name, value))


async def test_beehive_online_with_ids_past_2_63_is_refused(beehive: Beehive) -> None:
    me = await beehive.user()
    fields = {"uid": me.uid, "sid": me.sid, "token": "t", "app": "a", "version": "1"}
    for name in ("uid", "sid"):
        for value in TOO_BIG:
            fresh = await beehive.connect()
            reply = await fresh.request(b.ONLINE, _with_raw_id(b.ONLINE, fields, name, value))
            assert reply.type == b.ONLINE_ACK and reply.msg.code != 0, reply


# -- OMTP -----------------------------------------------------------------------------------------------------
OmtpCase = Callable[[Omtp, OmtpClient, str], Awaitable[int]]


async def _single(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.send_single(v, "x")).code


async def _group_send(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.send_group(f"GC_{v}", "x")).code


async def _group_join(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.group_join(f"GC_{v}", [c.uid])).code


async def _member(pool: Omtp, c: OmtpClient, v: str) -> int:
    created = await c.group_create(f"oor{time.time_ns()}")
    return (await c.group_join(created.group_id, [v])).code


async def _friend(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.friend_add(c.uid, v)).code


async def _info(pool: Omtp, c: OmtpClient, v: str) -> int:
    resp = await c.user_info_get([v])
    assert resp.code == 0
    if not 0 < int(v) < 2**63:
        assert not resp.user_infos  # an id no user can have: nobody found is the answer
    return 0


async def _client_id(pool: Omtp, c: OmtpClient, v: str) -> int:
    """A LOGIN naming nobody is answered, then closed (omtp.md §5.2): on its own connection."""
    fresh = await pool.connect()
    code, _ = await fresh.login(user_name="nobody", password="pw", client_id=v)
    return code


async def _friend_del(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.friend_del(c.uid, v)).code


async def _members(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.group_members(f"GC_{v}")).code


async def _history(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.history(f"LP_G1_{c.uid}_{v}")).code


async def _read(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.read(f"GC_{v}", 1)).code


async def _monitor(pool: Omtp, c: OmtpClient, v: str) -> int:
    return (await c.monitor_start(f"GC_{v}")).code


OMTP_CASES: list[OmtpCase] = [
    _single,
    _group_send,
    _group_join,
    _member,
    _friend,
    _friend_del,
    _members,
    _history,
    _read,
    _monitor,
    _client_id,
]


async def _omtp_answered(pool: Omtp, c: OmtpClient, case: OmtpCase, value: int) -> None:
    code = await case(pool, c, str(value))
    if case is not _info:
        assert code != 0, (case.__name__, value)
    await c.ping()
    assert not c.closed


async def test_omtp_ids_past_2_63_get_a_refusal_and_the_connection_stays(omtp: Omtp) -> None:
    me = await omtp.user("oor")
    for case in [*OMTP_CASES, _info]:
        for value in TOO_BIG:
            await _omtp_answered(omtp, me, case, value)


# -- every id field, any integer -----------------------------------------------------------------------------
ids = st.one_of(st.integers(-(2**64), 2**65), st.sampled_from([-1, 0, 2**63 - 1, 2**63, 2**64 - 1, 2**64]))


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_id_field_takes_any_integer(server: Server, data: st.DataObject) -> None:
    """One logged-in connection per protocol takes 30 requests, each with one id field set to any integer
    from -2^64 to 2^65: each gets an answer, and the connection is still there after all of them."""
    beehive_cases = [
        (cmd, name) for cmd, fields in _beehive_cases(0, 0).items() for name in fields if name in _ID_NAMES
    ]
    picks = data.draw(st.lists(st.tuples(st.sampled_from(beehive_cases), ids), min_size=30, max_size=30))
    cases = st.tuples(st.sampled_from([*OMTP_CASES, _info]), ids)
    omtp_picks = data.draw(st.lists(cases, min_size=30, max_size=30))  # within the rate limit
    asyncio.run(_every_id_field(server, picks, omtp_picks))


async def _every_id_field(
    server: Server, picks: list[tuple[tuple[int, str], int]], omtp_picks: list[tuple[OmtpCase, int]]
) -> None:
    pool, omtp_pool = Beehive(server), Omtp(server)
    try:
        me = await pool.user()
        gid = await me.create_group(f"any{time.time_ns()}")
        cases = _beehive_cases(me.uid, gid)
        for (cmd, name), value in picks:
            reply = await me.request(cmd, _with_raw_id(cmd, cases[cmd], name, value))
            assert reply.type in (cmd + 1, b.ERROR), reply
        assert (await me.ping()).type == b.PONG and not me.closed
        o = await omtp_pool.user("any")
        for case, value in omtp_picks:
            await case(omtp_pool, o, str(value))
        await o.ping()
        assert not o.closed
    finally:
        await pool.close()
        await omtp_pool.close()


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
