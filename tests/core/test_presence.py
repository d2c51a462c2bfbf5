"""``Accounts.set_presence`` / ``presence``: a status a user sets (away, busy) reaches the friends and
the user's other sessions, queries show it while the user is online, and it ends with the last session."""

from __future__ import annotations

from polyim.core.app import Core
from polyim.core.events import Presence, PresenceEvent
from tests.core.test_core import core, online, user

__all__ = ["core"]


async def test_a_status_reaches_friends_and_own_sessions_and_ends_with_the_last_session(core: Core) -> None:
    a, b = await user(core, "pa"), await user(core, "pb")
    await core.relations.add_friend(a, b, "")
    sb, watcher = await online(core, b)
    sa, own = await online(core, a)
    phone, other = await online(core, a, device="ph")
    watcher.clear()
    assert await core.accounts.set_presence(sa, Presence.AWAY)
    assert not await core.accounts.set_presence(sa, Presence.AWAY)  # unchanged: nothing said
    assert [e.presence for e in watcher.of(PresenceEvent)] == [Presence.AWAY]
    assert [e.presence for e in other.of(PresenceEvent)] == [Presence.AWAY] and own.of(PresenceEvent) == []
    assert core.accounts.presence(a) is Presence.AWAY
    await core.accounts.detach(sa)
    await core.accounts.detach(phone)
    assert core.accounts.presence(a) is Presence.OFFLINE
    await online(core, a)
    assert core.accounts.presence(a) is Presence.ONLINE
    assert not await core.accounts.set_presence(sb, Presence.OFFLINE)
