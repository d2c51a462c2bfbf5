"""Numbered devices: ids a protocol hands out, one per device of a user, and binds to that user for good.

beehive's ``sid`` is one (beehive.md §6.1, §9.3): ``/im/register`` allocates a new one, ``/im/iplist``
and a first ONLINE bind an unregistered one, and from then on the device belongs to that uid, so a user
cannot log in, or kick, a device of another user. The ids live in the store; owners are cached since
they never change.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyim.core.context import Context
from polyim.core.errors import Code, CoreError

MAX_DEVICE = (1 << 64) - 1
_CACHE_MAX = 200_000


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Where a device says it is (beehive ``nation``, ``city``, ``town``); stored, not interpreted."""

    nation: int = 0
    city: int = 0
    town: int = 0


class Devices:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._owners: dict[int, int] = {}

    async def register(self, uid: int, info: DeviceInfo | None = None) -> int:
        """A new device id for ``uid`` (never one already bound to anybody)."""
        await self.ctx.require_account(uid)
        info = info or DeviceInfo()
        device = await self.ctx.store.new_device(
            uid, info.nation, info.city, info.town, self.ctx.clock.now_ms()
        )
        self._remember(device, uid)
        return device

    async def registered_since(self, uid: int, since_ms: int) -> int:
        """How many device ids ``uid`` was given since ``since_ms`` (for rate limits)."""
        return await self.ctx.store.devices_since(uid, since_ms)

    async def bind(self, device: int, uid: int) -> None:
        """Bind ``device`` to ``uid`` unless it is bound already; refused when it belongs to another user."""
        if not 0 < device <= MAX_DEVICE:
            raise CoreError(Code.BAD_REQUEST, "bad device id")
        owner = self._owners.get(device)
        if owner is None:
            owner = await self.ctx.store.bind_device(device, uid, self.ctx.clock.now_ms())
            self._remember(device, owner)
        if owner != uid:
            raise CoreError(Code.IDENTITY_MISMATCH, "the device belongs to another user")

    async def owner(self, device: int) -> int | None:
        owner = self._owners.get(device)
        if owner is None and 0 < device <= MAX_DEVICE:
            owner = await self.ctx.store.device_owner(device)
            if owner is not None:
                self._remember(device, owner)
        return owner

    def _remember(self, device: int, uid: int) -> None:
        if len(self._owners) >= _CACHE_MAX:
            self._owners.clear()
        self._owners[device] = uid
