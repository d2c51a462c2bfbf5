"""The core facade: the one object adapters, the HTTP server and the CLI talk to.

It imports no protocol. Adapters call its services with typed arguments and receive typed events
through the :class:`~polyim.core.sessions.Sink` they registered with a session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from polyim.cluster.base import Cluster, SessionId
from polyim.cluster.local import local_cluster
from polyim.config import AccountSettings
from polyim.core.accounts import Accounts
from polyim.core.auth import TokenSigner
from polyim.core.clock import Clock
from polyim.core.context import Context, check_actor
from polyim.core.devices import Devices
from polyim.core.events import SyncCommandEvent
from polyim.core.files import LINK_PURPOSE, Files
from polyim.core.groups import Groups
from polyim.core.messaging import Messaging
from polyim.core.nodes import Nodes
from polyim.core.push import Push
from polyim.core.relations import Relations
from polyim.core.rooms import Rooms
from polyim.core.sessions import SessionRegistry
from polyim.core.stats import NodeStats
from polyim.store.base import FileStore, Store

__all__ = ["Core", "check_actor"]


class Core:
    """``cluster`` is this node's set of seams to the other nodes; by default a single node's
    (:func:`~polyim.cluster.local.local_cluster`), which scaled mode replaces by its own."""

    def __init__(
        self,
        store: Store,
        settings: AccountSettings,
        secret: bytes,
        node_id: int = 1,
        *,
        files: FileStore | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.cluster = cluster or local_cluster(node_id, settings)
        self.ctx = Context(store, settings, Clock(node_id), self.cluster)
        self.store = store
        #: Offline files (TeamTalk, XMMEP); None on a core built without them (tests).
        self.files = files
        self.settings = settings
        self.accounts = Accounts(self.ctx, TokenSigner(secret), self.cluster.throttle)
        self.messages = Messaging(self.ctx)
        self.relations = Relations(self.ctx)
        self.groups = Groups(self.ctx)
        self.rooms = Rooms(self.ctx, self.cluster.nodes)
        self.push = Push(self.ctx, self.messages)
        self.devices = Devices(self.ctx)
        self.nodes = Nodes(node_id, self.cluster.nodes)
        #: File transfer tasks and offline files (TeamTalk), over ``files``.
        self.transfers = Files(self.ctx, files, self.accounts.signer(LINK_PURPOSE))

    def use_token_signer(self, tokens: TokenSigner) -> None:
        """Sign logins with ``tokens`` from now on, and the tokens derived from it (file links) too: a
        scaled node adopts the cluster's shared secret this way after start."""
        self.accounts.tokens = tokens
        self.transfers.links = tokens.derived(LINK_PURPOSE)

    @property
    def sessions(self) -> SessionRegistry:
        return self.ctx.sessions

    @property
    def stats(self) -> NodeStats:
        """What /metrics counts that live state cannot tell (logins, messages, fan-outs, errors)."""
        return self.ctx.stats

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    async def start(self) -> None:
        await self.store.open()
        await self.cluster.membership.join()
        # reported before the rooms are read, so no room change made meanwhile passes this node by
        self.nodes.add_reporter(lambda _: self.rooms.report())
        await self.rooms.load()
        await self.transfers.load()

    async def stop(self) -> None:
        self.rooms.stop()
        await self.rooms.flush()
        self.nodes.stop()
        await self.cluster.membership.leave()
        if self.files is not None:
            await self.files.close()
        await self.store.close()

    async def once(self, key: str, make: Callable[[], str]) -> str:
        """The answer kept under ``key``, or ``make()``'s, kept: a request repeated with the same key
        (an HTTP API's trace id) gets the first answer and does nothing again."""
        prior = await self.store.recall(key)
        return prior if prior is not None else await self.store.remember(key, make())

    def send_sync_command(
        self,
        uids: Sequence[int],
        command: int,
        content: str,
        request_id: str = "",
        *,
        skip: SessionId | None = None,
    ) -> int:
        """Tell the users' live sessions to re-sync; nothing is stored. Returns the connections reached."""
        return self.ctx.sessions.deliver(uids, SyncCommandEvent(command, content, request_id), skip=skip)
