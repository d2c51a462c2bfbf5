"""Accounts: creation, login (with throttling), profiles, tokens, disabling."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import string
from dataclasses import dataclass

from polyim.cluster.base import SessionId, SessionRecord, Throttle
from polyim.core import auth
from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import KickReason, Presence, PresenceEvent
from polyim.core.ids import bad_name, check_name
from polyim.core.sessions import Session
from polyim.model import Account, AccountUpdate, Role
from polyim.store.base import Conflict

log = logging.getLogger(__name__)

MAX_UID = (1 << 63) - 1
ACTIVATION_ALPHABET = string.ascii_uppercase + string.digits


async def _hashed(password: str) -> str:
    """The password's hash, made on a worker thread (argon2 takes tens of ms); a password that is no
    text (a lone surrogate from JSON) is refused."""
    try:
        password.encode()
    except UnicodeEncodeError:
        raise CoreError(Code.BAD_REQUEST, "bad password") from None
    return await asyncio.get_running_loop().run_in_executor(None, auth.hash_password, password)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login frame carries. ``username`` or ``uid`` names the account (both must agree when
    both are given); ``secret`` is a password (plaintext, or MD5 hex when ``is_md5``) or a token.
    ``device_bound``: a token is accepted only for the device it was issued to (imlc.md §3.1 LOGIN)."""

    username: str
    uid: int | None
    secret: str
    device_id: str
    addr: str = ""
    is_md5: bool = False
    device_bound: bool = False


class Accounts:
    def __init__(self, ctx: Context, tokens: auth.TokenSigner, throttle: Throttle) -> None:
        self.ctx = ctx
        self.tokens = tokens
        self.throttle = throttle
        self.watch_group_max = 0  # 0: only friends watch a user's presence (widen_watchers)

    async def create(
        self,
        username: str,
        password: str,
        *,
        uid: int | None = None,
        nickname: str = "",
        email: str = "",
        role: Role = Role.USER,
        activated: bool = True,
    ) -> Account:
        if not username or bad_name(username) or any(c.isspace() for c in username):
            raise CoreError(Code.BAD_REQUEST, "bad username")
        if len(username.encode()) > 64:
            raise CoreError(Code.BAD_REQUEST, "bad username")
        check_name(nickname, "nickname")
        if uid is not None and not 0 < uid <= MAX_UID:
            raise CoreError(Code.BAD_REQUEST, "uid out of range")
        pw_hash = await _hashed(password)
        try:
            return await self.ctx.store.create_account(
                username, pw_hash, uid=uid, nickname=nickname, email=email, role=role, activated=activated
            )
        except Conflict as exc:
            raise CoreError(Code.NAME_TAKEN, str(exc)) from exc

    async def authenticate(self, cred: Credentials, protocol: str = "") -> Account:
        """Check credentials with the throttle of design.md §7. Unknown users and wrong passwords get the
        same AUTH_FAILED (and cost the same hashing) so that accounts cannot be probed. A login names
        its ``protocol``, and a refusal is counted for ``/metrics`` under it (a password re-check, which
        is no login, names none)."""
        try:
            return await self._authenticate(cred)
        except CoreError as exc:
            if protocol:
                self.ctx.stats.login(protocol, exc.code.value)
                log.info("login of %r refused (%s)", cred.username or cred.uid, exc.code.value)
            raise

    async def _authenticate(self, cred: Credentials) -> Account:
        account = await self._lookup(cred)
        # The account key is the uid once known, so switching between name and uid gains no tries.
        keys = [f"acct:{account.uid}" if account else f"acct:{cred.username or cred.uid}"]
        if cred.addr:
            keys.append(f"addr:{cred.addr}")
        for key in keys:
            if await self.throttle.locked(key):
                raise CoreError(Code.THROTTLED, "too many failed logins")
        verified = await self._verify(cred, account)  # runs the hash even for unknown accounts
        if account is None or not verified:
            for key in keys:
                await self.throttle.fail(key)
            raise CoreError(Code.AUTH_FAILED, "auth failed")
        await self.throttle.succeed(keys[0])
        if account.disabled or (self.ctx.settings.require_activation and not account.activated):
            raise CoreError(Code.DISABLED, "account disabled")
        return account

    async def locked_out(self, uid: int, addr: str = "") -> str:
        """``"address"`` or ``"account"`` when logins for ``uid`` (from ``addr``) are throttled now, else
        ``""``: the protocols whose refusals tell the two apart (beehive 10022 / 10023) ask first."""
        if addr and await self.throttle.locked(f"addr:{addr}"):
            return "address"
        return "account" if await self.throttle.locked(f"acct:{uid}") else ""

    async def _lookup(self, cred: Credentials) -> Account | None:
        """The account the credentials name; both name and uid must agree when both are given."""
        store = self.ctx.store
        account = await store.get_account_by_name(cred.username) if cred.username else None
        if cred.uid is not None:
            if account is None and not cred.username:
                account = await store.get_account(cred.uid)
            if account is not None and account.uid != cred.uid:
                account = None
        return account

    async def _verify(self, cred: Credentials, account: Account | None) -> bool:
        if not cred.secret:
            return False
        if self.tokens.looks_like_token(cred.secret):
            claims = self.tokens.verify(cred.secret)
            if claims is None or (cred.device_bound and claims.device != cred.device_id):
                return False
            return account is not None and claims.uid == account.uid
        stored = await self.ctx.store.get_password_hash(account.uid) if account is not None else None
        normalised = auth.normalise(cred.secret, is_md5=cred.is_md5)
        ok = await asyncio.get_running_loop().run_in_executor(
            None, auth.verify_normalised, stored or auth.dummy_hash(), normalised
        )
        return ok and stored is not None

    def token_uid(self, token: str) -> int | None:
        """The uid a valid, unexpired token names (None otherwise): a token login that names no account
        (imlc) is looked up by it, and :meth:`authenticate` still verifies the token as its secret."""
        claims = self.tokens.verify(token) if self.tokens.looks_like_token(token) else None
        return claims.uid if claims is not None else None

    def issue_token(self, uid: int, device: str, ttl_s: int | None = None) -> str:
        return self.tokens.issue(uid, device, ttl_s or self.ctx.settings.token_ttl)

    def signer(self, purpose: str) -> auth.TokenSigner:
        """Signed, expiring tokens of another kind than logins (see :meth:`auth.TokenSigner.derived`)."""
        return self.tokens.derived(purpose)

    async def get(self, uid: int) -> Account | None:
        return await self.ctx.account(uid)

    def cached(self, uid: int) -> Account | None:
        """:meth:`get` from the caches alone: None when it would have to read the store."""
        return self.ctx.cached_account(uid)

    async def get_many(self, uids: list[int]) -> list[Account]:
        return await self.ctx.store.get_accounts(uids)

    async def directory(self, limit: int) -> list[Account]:
        """The active accounts, by uid, at most ``limit`` (a company directory: TeamTalk 2/14)."""
        return [a for a in await self.ctx.store.list_accounts(limit) if not a.disabled]

    async def by_name(self, username: str) -> Account | None:
        return await self.ctx.account_by_name(username)

    def cached_by_name(self, username: str) -> Account | None:
        """:meth:`by_name` from the caches alone: None when it would have to read the store."""
        return self.ctx.cached_account_by_name(username)

    async def page(self, query: str, offset: int, limit: int) -> tuple[int, list[Account]]:
        """An operator's listing: every account (disabled ones too) whose username or nickname holds
        ``query`` (case-insensitive; empty: all) or whose uid it spells, by uid; the total found and
        the ``limit`` from ``offset``. Scans the account list like :meth:`search`."""
        wanted = query.casefold()
        found = [
            a
            for a in await self.ctx.store.list_accounts(100_000)
            if not wanted
            or wanted in a.username.casefold()
            or wanted in a.nickname.casefold()
            or wanted == str(a.uid)
        ]
        return len(found), found[offset : offset + limit]

    async def search(
        self, name: str = "", nickname: str = "", email: str = "", location: str = "", limit: int = 50
    ) -> list[Account]:
        """Active accounts matching every condition given: name, nickname and location as
        case-insensitive substrings of at least 2 characters, e-mail exact (no substring, against
        enumeration). No usable condition finds nobody. Scans the account list: fine for the directories
        polyim serves today."""
        given = ((name, "username"), (nickname, "nickname"), (location, "location"))
        wanted = [(text.casefold(), field) for text, field in given]
        if any(0 < len(text) < 2 for text, _ in wanted) or not (name or nickname or location or email):
            return []
        found: list[Account] = []
        for account in await self.ctx.store.list_accounts(100_000):
            if account.disabled or (email and account.email.casefold() != email.casefold()):
                continue
            if all(text in getattr(account, field).casefold() for text, field in wanted if text):
                found.append(account)
                if len(found) >= limit:
                    break
        return found

    async def update_profile(self, uid: int, change: AccountUpdate) -> Account:
        """A user's own profile change: nickname, avatar, mobile, birthday, email, personal message,
        location, gender; nothing privileged."""
        if not change.profile_only:
            raise CoreError(Code.BAD_REQUEST, "not a profile field")
        for text, what in (
            (change.nickname, "nickname"),
            (change.signature, "signature"),
            (change.location, "location"),
        ):
            if text is not None:
                check_name(text, what)
        account = await self.ctx.store.update_account(uid, change)
        self.ctx.forget_account(uid)
        if account is None:
            raise CoreError(Code.USER_NOT_FOUND)
        return account

    async def activation_code(self, uid: int) -> str:
        """The account's activation code (8 of A–Z, 0–9), made at first ask and kept; polyim sends no
        e-mail, so the protocol that registered the account logs it for the operator."""
        key = f"activation:{uid}"
        prior = await self.ctx.store.recall(key)
        if prior is not None:
            return prior
        return await self.ctx.store.remember(
            key, "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(8))
        )

    async def activate(self, username: str, code: str, addr: str = "") -> bool:
        """Activate ``username`` with its code: True when done (or already active); False for a wrong
        code and for an unknown name alike, both counted by the throttle (per account, and per address
        at four times the count), so that activation cannot probe for accounts."""
        account = await self.ctx.store.get_account_by_name(username)
        keys = [f"activate:{account.uid if account else username}"] + (
            [f"addr:activate:{addr}"] if addr else []
        )
        for key in keys:
            if await self.throttle.locked(key):
                raise CoreError(Code.THROTTLED, "too many wrong activation codes")
        if account is not None and account.activated:
            return True
        expected = await self.ctx.store.recall(f"activation:{account.uid}") if account is not None else None
        if account is None or expected is None or not hmac.compare_digest(expected, code.upper()):
            for key in keys:
                await self.throttle.fail(key)
            return False
        await self.ctx.store.update_account(account.uid, AccountUpdate(activated=True))
        self.ctx.forget_account(account.uid)
        return True

    async def note_login(self, uid: int) -> int:
        """Record a login of ``uid`` now; returns the time of the one before (ms, 0 = never)."""
        before = await self.ctx.store.get_account(uid)
        await self.ctx.store.update_account(uid, AccountUpdate(last_login_ms=self.ctx.clock.now_ms()))
        self.ctx.forget_account(uid)
        return before.last_login_ms if before is not None else 0

    async def set_password(self, uid: int, password: str) -> None:
        pw_hash = await _hashed(password)
        if await self.ctx.store.update_account(uid, AccountUpdate(password_hash=pw_hash)) is None:
            raise CoreError(Code.USER_NOT_FOUND)

    async def set_disabled(self, uid: int, disabled: bool) -> None:
        if await self.ctx.store.update_account(uid, AccountUpdate(disabled=disabled)) is None:
            raise CoreError(Code.USER_NOT_FOUND)
        self.ctx.forget_account(uid)
        if disabled:
            before = self.presence(uid)
            for session in list(self.ctx.sessions.records(uid)):
                self.ctx.sessions.kick(session.sid, KickReason.DISABLED)
            await self._announce_change(uid, before)

    # -- sessions ---------------------------------------------------------------------------------
    async def attach(self, session: Session) -> list[SessionRecord]:
        """Make ``session`` live: apply the kick policy, announce presence when the user's visible
        presence changed (came online). Returns the sessions it replaced (kicked, on whatever node)."""
        before = self.presence(session.uid)
        replaced = self.ctx.sessions.attach(session)
        self.ctx.stats.login(session.protocol)
        await self._announce_change(session.uid, before)
        return replaced

    async def detach(self, session: Session) -> None:
        before = self.presence(session.uid)
        self.ctx.sessions.detach(session.sid)
        await self._announce_change(session.uid, before)

    async def set_presence(self, session: Session, presence: Presence) -> None:
        """``session`` shows ``presence`` (OFFLINE: invisible); friends hear of a change of the user's
        aggregate presence only (XMMEP 135, xmmep.md §1.3)."""
        before = self.presence(session.uid)
        session.presence = presence
        await self._announce_change(session.uid, before)

    def presence(self, uid: int) -> Presence:
        """The user's aggregate presence: the most available among its visible sessions here (ONLINE,
        then BUSY, then AWAY); a user live only on other nodes counts as ONLINE; OFFLINE when none is
        visible."""
        local = self.ctx.sessions.of(uid)
        if not local:
            return Presence.ONLINE if self.ctx.sessions.online(uid) else Presence.OFFLINE
        shown = {s.presence for s in local}
        for presence in (Presence.ONLINE, Presence.BUSY, Presence.AWAY):
            if presence in shown:
                return presence
        return Presence.OFFLINE

    async def _announce_change(self, uid: int, before: Presence) -> None:
        after = self.presence(uid)
        if after is not before:
            await self._announce(uid, after)

    async def kick_session(self, sid: SessionId) -> bool:
        """An operator ends the session ``sid`` on whatever node holds it (the client hears its
        protocol's kick); False when no node has it. Presence is announced as for any other end."""
        record = self.ctx.sessions.record(sid)
        if record is None:
            return False
        before = self.presence(record.uid)
        self.ctx.sessions.kick(sid, KickReason.OPERATOR)
        await self._announce_change(record.uid, before)
        return True

    def kick_device(self, session: Session, device_id: str, device_type: int | None = None) -> bool:
        """Kick one of the caller's own other sessions, on any node, matched by device id (and type when
        given)."""
        for other in self.ctx.sessions.records(session.uid):
            if other.sid == session.sid or other.device_id != device_id:
                continue
            if (
                device_type is not None
                and other.protocol == session.protocol
                and other.device_type != device_type
            ):
                continue
            return self.ctx.sessions.kick(other.sid, KickReason.OWN_DEVICE)
        return False

    def widen_watchers(self, group_max: int) -> None:
        """Also tell presence to the user's 1:1 peers and to the members of its groups of at most
        ``group_max`` members (a protocol that asks for it: TeamTalk ``presence_group_max``)."""
        self.watch_group_max = max(self.watch_group_max, group_max)

    async def _announce(self, uid: int, presence: Presence) -> None:
        friends = await self.ctx.follower_ids(uid)  # who has uid as a friend observes it
        blocked = await self.ctx.blocked_by(uid)  # a user on uid's blacklist gets no presence of uid
        watchers = [peer for peer in friends if peer not in blocked]
        if watchers:
            self.ctx.sessions.deliver(watchers, PresenceEvent(uid, presence))
        if self.watch_group_max:
            others = await self._wide_watchers(uid) - friends - blocked - {uid}
            if others:
                self.ctx.sessions.deliver(others, PresenceEvent(uid, presence, friend=False))

    async def _wide_watchers(self, uid: int) -> set[int]:
        """The 1:1 peers of ``uid`` and the members of its groups small enough to watch it."""
        watchers = set(await self.ctx.store.peers(uid))
        for group in await self.ctx.store.groups_of(uid):
            members = await self.ctx.members(group.gid)
            if len(members) <= self.watch_group_max:
                watchers.update(members)
        return watchers
