"""The shared vocabulary: update records name only the fields they change; a conversation is one object."""

from __future__ import annotations

from polyim.model import AccountUpdate, ConvId, GroupUpdate, Role, changed_fields


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
