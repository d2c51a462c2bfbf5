"""The shared vocabulary: update records name only the fields they change."""

from __future__ import annotations

from polyim.model import AccountUpdate, GroupUpdate, Role, changed_fields


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
