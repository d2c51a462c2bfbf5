"""The shared vocabulary: update records name only the fields they change; a conversation is one object."""

from __future__ import annotations

from polyim.model import AccountUpdate, ConvId, GroupUpdate, Message, Role, changed_fields


def test_changed_fields_are_the_set_ones_in_declaration_order() -> None:
    assert changed_fields(AccountUpdate()) == {}
    change = AccountUpdate(role=Role.OPERATOR, nickname="", disabled=False)
    assert changed_fields(change) == {"nickname": "", "role": Role.OPERATOR, "disabled": False}
    assert changed_fields(GroupUpdate(closed=True, name="team")) == {"name": "team", "closed": True}


def test_profile_only_excludes_password_role_and_switches() -> None:
    assert AccountUpdate(nickname="n", avatar="a", email="e", mobile="m", birthday=1).profile_only
    for privileged in (
        AccountUpdate(password_hash="h"),
        AccountUpdate(role=Role.USER),
        AccountUpdate(disabled=False),
        AccountUpdate(activated=True),
    ):
        assert not privileged.profile_only


def test_a_conversation_is_one_object_however_it_is_named() -> None:
    small = ConvId.peer(10002, 10001)
    assert small is ConvId.peer(10001, 10002) and (small.a, small.b, small.key) == (
        10001,
        10002,
        "p:10001:10002",
    )
    assert ConvId.from_key(small.key) is small
    large = ConvId.peer(2**62, 7)  # an id past the compact key takes the general table
    assert large is ConvId.peer(7, 2**62) is ConvId.from_key(f"p:7:{2**62}")
    assert (large.a, large.b) == (7, 2**62) and large != ConvId.peer(7, 2**31)
    assert ConvId.peer(2**31 - 1, 1) != ConvId.peer(1, 2**31 - 2) != ConvId.group(1)


def test_a_message_keeps_each_rendering_under_its_own_key() -> None:
    """imlc renders a 1:1 message twice (the peer's view and the sender's), beehive and OMTP once each:
    every key gets its own frame back, the first and the later ones alike."""
    message = Message(ConvId.peer(10001, 10002), 1, 99, 10001, "pc", "c1", 1, "hi", 5)
    assert message.rendered("omtp") is None
    assert message.keep_rendered("omtp", b"o") == b"o"
    for key, frame in (("imlc:10001", b"i1"), ("imlc:10002", b"i2"), ("beehive", b"b")):
        assert message.rendered(key) is None
        message.keep_rendered(key, frame)
    assert [message.rendered(k) for k in ("omtp", "imlc:10001", "imlc:10002", "beehive", "tt")] == [
        b"o",
        b"i1",
        b"i2",
        b"b",
        None,
    ]
