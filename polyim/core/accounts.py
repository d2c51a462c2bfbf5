"""Accounts: creation, login (with throttling), profiles, tokens, disabling."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from polyim.cluster.base import SessionRecord, Throttle
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
        #: Statuses other than plain "online" that users set for themselves (this node's sessions).
        self._status: dict[int, Presence] = {}

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
        pw_hash = await asyncio.get_running_loop().run_in_executor(None, auth.hash_password, password)
        try:
            return await self.ctx.store.create_account(
                username, pw_hash, uid=uid, nickname=nickname, email=email, role=role, activated=activated
            )
        except Conflict as exc:
            raise CoreError(Code.NAME_TAKEN, str(exc)) from exc

    async def authenticate(self, cred: Credentials) -> Account:
        """Check credentials with the throttle of design.md §7. Unknown users and wrong passwords get the
        same AUTH_FAILED (and cost the same hashing) so that accounts cannot be probed."""
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

    async def get_many(self, uids: list[int]) -> list[Account]:
        return await self.ctx.store.get_accounts(uids)

    async def directory(self, limit: int) -> list[Account]:
        """The active accounts, by uid, at most ``limit`` (a company directory: TeamTalk 2/14)."""
        return [a for a in await self.ctx.store.list_accounts(limit) if not a.disabled]

    async def by_name(self, username: str) -> Account | None:
        return await self.ctx.store.get_account_by_name(username)

    async def update_profile(self, uid: int, change: AccountUpdate) -> Account:
        """A user's own profile change: nickname, avatar, mobile, birthday, email; nothing privileged."""
        if not change.profile_only:
            raise CoreError(Code.BAD_REQUEST, "not a profile field")
        if change.nickname is not None:
            check_name(change.nickname, "nickname")
        account = await self.ctx.store.update_account(uid, change)
        self.ctx.forget_account(uid)
        if account is None:
            raise CoreError(Code.USER_NOT_FOUND)
        return account

    async def set_password(self, uid: int, password: str) -> None:
        pw_hash = await asyncio.get_running_loop().run_in_executor(None, auth.hash_password, password)
        if await self.ctx.store.update_account(uid, AccountUpdate(password_hash=pw_hash)) is None:
            raise CoreError(Code.USER_NOT_FOUND)

    async def set_disabled(self, uid: int, disabled: bool) -> None:
        if await self.ctx.store.update_account(uid, AccountUpdate(disabled=disabled)) is None:
            raise CoreError(Code.USER_NOT_FOUND)
        self.ctx.forget_account(uid)
        if disabled:
            sessions = list(self.ctx.sessions.records(uid))
            for session in sessions:
                self.ctx.sessions.kick(session.sid, KickReason.DISABLED)
            if sessions and not self.ctx.sessions.online(uid):
                await self._announce(uid, Presence.OFFLINE)

    # -- sessions ---------------------------------------------------------------------------------
    async def attach(self, session: Session) -> list[SessionRecord]:
        """Make ``session`` live: apply the kick policy, announce presence when the user came online.
        Returns the sessions it replaced (kicked, on whatever node they were)."""
        was_online = self.ctx.sessions.online(session.uid)
        replaced = self.ctx.sessions.attach(session)
        if not was_online:
            await self._announce(session.uid, Presence.ONLINE)
        return replaced

    async def detach(self, session: Session) -> None:
        if self.ctx.sessions.detach(session.sid):
            self._status.pop(session.uid, None)
            await self._announce(session.uid, Presence.OFFLINE)

    def presence(self, uid: int) -> Presence:
        """What a watcher is shown of ``uid`` now: offline without a live session, else the status the
        user set (online by default)."""
        if not self.ctx.sessions.online(uid):
            return Presence.OFFLINE
        return self._status.get(uid, Presence.ONLINE)

    async def set_presence(self, session: Session, presence: Presence) -> bool:
        """The user of ``session`` sets its status (online, busy, away): its watchers hear it, and so do
        its other sessions. False when nothing changed (or the status is not one a user sets)."""
        if presence is Presence.OFFLINE or self.presence(session.uid) is presence:
            return False
        if presence is Presence.ONLINE:
            self._status.pop(session.uid, None)
        else:
            self._status[session.uid] = presence
        await self._announce(session.uid, presence)
        self.ctx.sessions.deliver([session.uid], PresenceEvent(session.uid, presence), skip=session.sid)
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

    async def _announce(self, uid: int, presence: Presence) -> None:
        friends = await self.ctx.friend_ids(uid)
        blocked = await self.ctx.blocked_by(uid)  # a user on uid's blacklist gets no presence of uid
        watchers = [peer for peer in friends if peer not in blocked]
        if watchers:
            self.ctx.sessions.deliver(watchers, PresenceEvent(uid, presence))
