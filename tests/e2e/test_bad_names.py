"""Names with a control character (NUL included) get each protocol's bad-request answer, from the one
rule in the core (issue 16); the connection stays, and a plain name is still accepted."""

from __future__ import annotations

import time

from tests.clients import beehive as b
from tests.clients.omtp import UserInfo
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]

BAD = ["a\x00b", "tab\there", "line\nbreak", "bell\x07"]
EC_PARAM = 2  # omtp.md §6


async def test_beehive_group_and_room_names(beehive: Beehive) -> None:
    me = await beehive.user()
    for name in BAD:
        creat = await me.request(b.GROUP_CREAT, b.body(b.GROUP_CREAT, uid=me.uid, gid=0, name=name, desc=""))
        assert (creat.type, creat.msg.code) == (b.GROUP_CREAT_ACK, 20007), name
        room = await me.request(b.ROOM_CREAT, b.body(b.ROOM_CREAT, uid=me.uid, name=name, desc=""))
        assert room.type == b.ROOM_CREAT_ACK and room.msg.code == 20007, name
    assert (await me.ping()).type == b.PONG
    assert await me.create_group(f"fine {time.time_ns()}") > 0


async def test_omtp_group_names_and_nicknames(omtp: Omtp) -> None:
    me = await omtp.user("names")
    for name in BAD:
        assert (await me.group_create(name)).code == EC_PARAM, name
        assert (await me.user_info_update(UserInfo(user_id=me.uid, name=name))).code == EC_PARAM, name
    await me.ping()
    assert not me.closed
    assert (await me.group_create(f"fine {time.time_ns()}")).code == 0
    assert (await me.user_info_update(UserInfo(user_id=me.uid, name="Zoë 🙂"))).code == 0
