"""OMTP friends, user profiles, per-friend and per-session attributes end to end (omtp.md §5.10, §5.11),
and the optional friendship requirement for single chats (§5.3.2)."""

from __future__ import annotations

import json

import pytest

from tests.clients.omtp import DeviceType, SyncCmd, UserInfo, single_session_id
from tests.conftest import Server
from tests.e2e.conftest import Omtp, nothing


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_friend_add_sync_and_delete(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")

    assert (await alice.friend_add(alice.uid, bob.uid, "work")).ok
    _, sync = await bob.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.FRIEND, alice.uid)
    _, sync = await alice_phone.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.FRIEND, bob.uid)
    await nothing(alice)
    await nothing(carol)

    mine = await alice.friend_sync(0)
    assert [(f.user_id, f.friend_id, f.remark) for f in mine.friends] == [(alice.uid, bob.uid, "work")]
    theirs = await bob.friend_sync(0)
    assert [(f.user_id, f.friend_id, f.remark) for f in theirs.friends] == [(bob.uid, alice.uid, "")]
    assert (await carol.friend_sync(0)).friends == []
    assert (await alice.friend_sync(2**62)).friends == []  # nothing changed after that time

    # adding again only updates the remark
    assert (await alice.friend_add(alice.uid, bob.uid, "old friend")).ok
    await bob.expect_sync()
    await alice_phone.expect_sync()
    assert [f.remark for f in (await alice_phone.friend_sync(0)).friends] == ["old friend"]

    # refusals
    assert (await alice.friend_add(bob.uid, carol.uid)).code == 23  # forged userId
    assert (await alice.friend_add(alice.uid, alice.uid)).code == 2  # oneself
    assert (await alice.friend_add(alice.uid, "999999999")).code == 2  # unknown
    assert (await alice.friend_add(alice.uid, "bob")).code == 2  # not a uid
    assert (await alice.friend_add(alice.uid, carol.uid, "x" * 300)).code == 2  # remark too long
    assert (await alice.friend_del(carol.uid, bob.uid)).code == 23
    await nothing(bob)
    await nothing(carol)

    assert (await bob.friend_del(bob.uid, alice.uid)).ok
    for device in (alice, alice_phone):
        _, sync = await device.expect_sync()
        assert (sync.command, sync.content) == (SyncCmd.FRIEND, bob.uid)
    assert (await alice.friend_sync(0)).friends == []
    assert (await bob.friend_sync(0)).friends == []
    assert (await bob.friend_del(bob.uid, alice.uid)).ok  # idempotent, nobody notified
    await nothing(alice)


async def test_user_info_get_and_update(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")

    got = await bob.user_info_get([alice.uid])
    assert got.ok and [(u.user_id, u.name) for u in got.user_infos] == [(alice.uid, omtp.name_of(alice))]

    me = UserInfo(alice.uid, "Alice A.", "http://a/alice.png", "+100", 946684800000)
    assert (await alice.user_info_update(me)).ok
    assert (await alice.user_info_update(UserInfo(bob.uid, "Mallory"))).code == 23
    assert (await alice.user_info_update(UserInfo(alice.uid, "x" * 65))).code == 2

    own = (await alice.user_info_get([alice.uid])).user_infos
    assert own == [me]
    # mobile only for oneself and friends; unknown ids are skipped
    stranger = await carol.user_info_get([alice.uid, "999999999", "nonsense", bob.uid])
    assert [u.user_id for u in stranger.user_infos] == [alice.uid, bob.uid]
    seen = stranger.user_infos[0]
    assert (seen.name, seen.avatar, seen.mobile, seen.birthday) == (
        "Alice A.",
        "http://a/alice.png",
        "",
        me.birthday,
    )
    assert (await alice.friend_add(alice.uid, bob.uid)).ok
    friend_view = (await bob.user_info_get([alice.uid])).user_infos[0]
    assert friend_view.mobile == "+100"

    # empty fields keep the stored values
    assert (await alice.user_info_update(UserInfo(alice.uid, "", "", "", 0))).ok
    assert (await alice.user_info_get([alice.uid])).user_infos == [me]
    assert (await alice.user_info_get([str(i) for i in range(201)])).code == 2


async def test_user_attributes(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    assert (await alice.friend_add(alice.uid, bob.uid, "first")).ok

    assert (await alice.user_attr_set(alice.uid, bob.uid, "REMARK", "Bobby")).ok
    assert (await alice.user_attr_set(alice.uid, bob.uid, "color", "blue")).ok
    assert (await alice.user_attr_set(alice.uid, carol.uid, "color", "red")).ok  # no friendship needed
    # REMARK is the friend remark
    assert [f.remark for f in (await alice.friend_sync(0)).friends] == ["Bobby"]

    by_name = await alice.user_attr_get(alice.uid, bob.uid, "color")
    assert [(a.user_id, a.friend_id, a.attr_name, a.attr_value) for a in by_name.attributes] == [
        (alice.uid, bob.uid, "color", "blue")
    ]
    for_bob = await alice.user_attr_get(alice.uid, bob.uid)
    assert {(a.attr_name, a.attr_value) for a in for_bob.attributes} == {
        ("REMARK", "Bobby"),
        ("color", "blue"),
    }
    every = await alice.user_attr_get(empty_payload=True)
    assert {(a.friend_id, a.attr_name) for a in every.attributes} >= {
        (bob.uid, "color"),
        (carol.uid, "color"),
        (bob.uid, "REMARK"),
    }
    colors = await alice.user_attr_get("", "", "color")
    assert {(a.friend_id, a.attr_value) for a in colors.attributes} == {(bob.uid, "blue"), (carol.uid, "red")}
    assert (await bob.user_attr_get(bob.uid)).attributes == []  # attributes are per user

    assert (await alice.user_attr_set(alice.uid, bob.uid, "", "v")).code == 60
    assert (await alice.user_attr_set(alice.uid, bob.uid, "n", "")).code == 61
    assert (await alice.user_attr_set(bob.uid, alice.uid, "n", "v")).code == 23
    assert (await alice.user_attr_set(alice.uid, "999999999", "n", "v")).code == 2
    assert (await alice.user_attr_get(bob.uid)).code == 23

    # as the original's tests do: set REMARK right after deleting the friend, read it back
    assert (await alice.friend_del(alice.uid, bob.uid)).ok
    assert (await alice.user_attr_set(alice.uid, bob.uid, "REMARK", "ex")).ok
    got = await alice.user_attr_get(alice.uid, bob.uid, "REMARK")
    assert [(a.friend_id, a.attr_value) for a in got.attributes] == [(bob.uid, "ex")]


async def test_session_attributes_in_hot_sessions(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    session = single_session_id(alice.uid, bob.uid)
    await bob.send_single(alice.uid, "hi")
    before = await alice_phone.hot_sessions(0)
    item = before.session(session)
    assert item is not None and item.attribute == ""

    assert (await alice.session_attr_set(alice.uid, session, "top", "1")).ok
    assert (await alice.session_attr_set(alice.uid, session, "note", "work")).ok
    # the change bumps the session for the user's other devices
    after = await alice_phone.hot_sessions(before.timestamp)
    item = after.session(session)
    assert item is not None and json.loads(item.attribute) == {"note": "work", "top": "1"}
    assert (await bob.hot_sessions()).session(session).attribute == ""  # type: ignore[union-attr]

    assert (await alice.session_attr_set(alice.uid, session, "note", "")).ok  # empty value removes
    item = (await alice.hot_sessions()).session(session)
    assert item is not None and json.loads(item.attribute) == {"top": "1"}

    assert (await alice.session_attr_set(bob.uid, session, "top", "1")).code == 23
    assert (await alice.session_attr_set(alice.uid, session, "", "1")).code == 60
    assert (await alice.session_attr_set(alice.uid, "LP_G1_nothing", "top", "1")).code == 2
    assert (await carol.session_attr_set(carol.uid, session, "top", "1")).code == 2


# -- require_friend = true -------------------------------------------------------------------------------
async def test_require_friend_setting(tuned_server: Server) -> None:
    pool = Omtp(tuned_server)
    try:
        alice = await pool.user("alice")
        bob = await pool.user("bob")
        refused = await alice.send_single(bob.uid, "hello stranger")
        assert refused.code == 50
        await nothing(bob)
        assert (await alice.send_single(alice.uid, "note to self")).ok  # self-chat needs no friend
        assert (await alice.friend_add(alice.uid, bob.uid)).ok
        await bob.expect_sync()
        assert (await alice.send_single(bob.uid, "hello friend")).ok
        _, msg = await bob.expect_msg()
        assert msg.content == "hello friend"
        assert (await bob.send_single(alice.uid, "hi back")).ok  # both edges exist
    finally:
        await pool.close()
