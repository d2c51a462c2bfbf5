"""Scaled mode over real sockets: two ``polyim serve`` processes on one PostgreSQL and one Redis (each
test's engines are the throw-away ones of :mod:`tests.engines`). Users of every landed protocol on node
A and node B chat 1:1 and in groups; a duplicate login on the other node kicks the first in its own
protocol's words; a token issued by one node is accepted by the other; beehive ``/im/iplist``, XMMEP
110/111 and TeamTalk's 1/1 → 1/2 hand out the least-loaded live node; and a node killed with ``kill -9``
loses only its connections."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command, Status
from tests.clients.omtp import PT
from tests.clients.teamtalk import Body, file_login, file_notice, msg_server, offer_file, parse
from tests.conftest import Server, start_server, write_config
from tests.e2e.beehive_pool import Beehive, http
from tests.e2e.conftest import Imlc, Omtp, TeamTalk, Xmmep
from tests.e2e.test_beehive_rooms import chat, join
from tests.e2e.test_imlc_rooms import new_room, next_notify, room
from tests.e2e.test_imlc_rooms import send as send_in_room
from tests.e2e.test_teamtalk_files import OFFLINE, ONLINE, UPLOAD, download, serve_pulls
from tests.engines import RedisServer, shared_postgres
from tests.test_cli import polyim

pytestmark = pytest.mark.scaled  # PostgreSQL and Redis (tests/engines.py)


def node_config(tmp: Path, node_id: int, pg_url: str, redis_url: str) -> Path:
    cfg = write_config(tmp, f'[storage]\nurl = "{pg_url}"\n[cluster]\nredis_url = "{redis_url}"\n')
    text = cfg.read_text(encoding="utf-8").replace("[server]\n", f"[server]\nnode_id = {node_id}\n", 1)
    cfg.write_text(text, encoding="utf-8")
    return cfg


def start_node(tmp: Path, node_id: int, pg_url: str, redis_url: str) -> Server:
    tmp.mkdir(parents=True, exist_ok=True)
    return start_server(tmp, config=node_config(tmp, node_id, pg_url, redis_url))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, own_redis_url: str) -> Iterator[tuple[Server, Server]]:
    pg_url = shared_postgres().database()
    tmp = tmp_path_factory.mktemp("scaled")
    a = start_node(tmp / "a", 1, pg_url, own_redis_url)
    b_ = start_node(tmp / "b", 2, pg_url, own_redis_url)
    yield a, b_
    b_.stop()
    a.stop()


@dataclass
class Pools:
    omtp: Omtp
    xmmep: Xmmep
    imlc: Imlc
    beehive: Beehive
    teamtalk: TeamTalk

    @classmethod
    def of(cls, server: Server) -> Pools:
        return cls(Omtp(server), Xmmep(server), Imlc(server), Beehive(server), TeamTalk(server))

    async def close(self) -> None:
        for pool in (self.omtp, self.xmmep, self.imlc, self.beehive, self.teamtalk):
            await pool.close()


@pytest.fixture
async def nodes(pair: tuple[Server, Server]) -> AsyncIterator[tuple[Pools, Pools]]:
    made = [Pools.of(s) for s in pair]
    yield made[0], made[1]
    for pools in made:
        await pools.close()


# -- one user per protocol, with one way to send and one way to receive a 1:1 text -------------------
@dataclass
class User:
    protocol: str
    uid: int
    name: str
    client: Any


Send = Callable[[User, User, str], Awaitable[None]]
Receive = Callable[[User], Awaitable[tuple[int, str]]]  # (sender uid, text)


async def login(pools: Pools, protocol: str, prefix: str) -> User:
    server = pools.omtp.server
    uid, name = server.add_user(prefix)
    if protocol == "omtp":
        client: Any = await pools.omtp.login(name)
    elif protocol == "xmmep":
        client = await pools.xmmep.login(name)
    elif protocol == "imlc":
        client = await pools.imlc.login(name)
    elif protocol == "teamtalk":
        client = await pools.teamtalk.login(name)
    else:
        client = await pools.beehive.login(uid)
    return User(protocol, uid, name, client)


async def send(sender: User, to: User, text: str) -> None:
    c = sender.client
    if sender.protocol == "omtp":
        assert (await c.send_single(str(to.uid), text)).ok
    elif sender.protocol == "xmmep":
        c.send(170, sender.name, to.name, 1, text, 0)
    elif sender.protocol == "imlc":
        assert (await c.send(str(to.uid), text, message_id=int(time.monotonic_ns() % 10**9))).status == 0
    elif sender.protocol == "teamtalk":
        await c.say(str(to.uid), text, seq_no=int(time.monotonic_ns() % 10**9))
    else:
        assert (await c.chat(to.uid, text)).code == 0


async def receive(user: User) -> tuple[int, str]:
    c = user.client
    if user.protocol == "omtp":
        _, msg = await c.expect_msg()
        return int(msg.from_), msg.content
    if user.protocol == "xmmep":
        got = await c.expect(170)
        return -1, got.field(3)  # XMMEP names the sender by username
    if user.protocol == "teamtalk":
        got = await c.message()
        return int(got.from_id), got.text
    if user.protocol == "imlc":
        mn = await c.expect(Command.MN)
        return int(getattr(mn, "from")), mn.message_content.searchable_content
    got = await c.expect(b.CHAT)
    return got.msg.suid, got.msg.text


PROTOCOLS = ["omtp", "xmmep", "imlc", "beehive", "teamtalk"]


async def test_every_protocol_pair_chats_across_nodes(nodes: tuple[Pools, Pools]) -> None:
    on_a, on_b = nodes
    for sender_protocol in PROTOCOLS:
        for receiver_protocol in PROTOCOLS:
            alice = await login(on_a, sender_protocol, "sa")
            bob = await login(on_b, receiver_protocol, "sb")
            await asyncio.sleep(0.05)  # node A hears of bob's session through Redis
            text = f"{sender_protocol} on A to {receiver_protocol} on B"
            await send(alice, bob, text)
            sender, got = await asyncio.wait_for(receive(bob), 10)
            assert got == text and sender in (alice.uid, -1)
            back = f"{receiver_protocol} on B to {sender_protocol} on A"
            await send(bob, alice, back)
            assert (await asyncio.wait_for(receive(alice), 10))[1] == back


async def test_a_group_spans_nodes_and_protocols(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, on_b = nodes
    alice = await on_a.xmmep.user("xg")
    bob = await on_b.omtp.user("og")
    carol, _ = await on_b.imlc.user("ig")
    name = f"scaled-{alice.uid}"
    status, body = pair[1].api(  # made through node B's admin API: the admin token is shared
        "POST",
        "/api/v1/groups",
        {"owner": alice.uid, "name": name, "members": [int(bob.uid), int(carol.uid)]},
    )
    assert status == 201, body
    await asyncio.sleep(0.1)
    alice.send(170, alice.user, name, 1, "hello group", 1)
    _, msg = await bob.expect_msg(PT.MSG_GROUP_CHAT)
    assert msg.content == "hello group"
    mn = await carol.expect(Command.MN)
    assert mn.conversation.type == pb.CONVERSATION_TYPE_GROUP
    assert mn.message_content.searchable_content == "hello group"
    assert (await bob.send_group(f"GC_{body['gid']}", "from node B")).ok
    assert (await alice.expect(170)).field(3) == "from node B"


async def test_a_room_spans_nodes_and_protocols(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, on_b = nodes
    alice, _ = await on_a.imlc.user("ra")
    rid = new_room(pair[0], int(alice.uid))  # made on node A, joined on node B (imlc never creates rooms)
    bee = await on_b.beehive.user("rb")
    first = await room(alice, rid)
    assert first.status == Status.OK and first.body.member_count == 1
    deadline = time.monotonic() + 10
    while (reply := await join(bee, rid)).msg.code != 0:  # node B hears of the room at once, normally
        assert time.monotonic() < deadline, reply.msg
        await asyncio.sleep(0.1)
    assert (await bee.expect(b.ROOM_JOIN_NTF)).msg.rid == rid
    for node in pair:  # the member count is the sum of the nodes' reports, on either node
        while node.api("GET", f"/api/v1/rooms/{rid}")[1]["sessions"] != 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    assert (await send_in_room(alice, rid, "hello room", 11)).status == Status.OK
    seen = await bee.expect(b.ROOM_CHAT)
    assert (seen.msg.uid, seen.msg.rid, seen.msg.text) == (int(alice.uid), rid, "hello room")
    assert (await chat(bee, rid, "from node B")).code == 0
    mn = await next_notify(alice, Command.MN)
    assert mn.message_content.searchable_content == "from node B"


async def test_a_duplicate_login_on_the_other_node_kicks_in_the_first_ones_words(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, on_b = nodes
    on_omtp = await on_a.omtp.user("ko")
    await asyncio.sleep(0.1)
    await on_b.xmmep.login(on_a.omtp.name_of(on_omtp))  # desktop class, like the OMTP one
    await on_omtp.expect_push(PT.KICKOUT)
    uid, name = pair[0].add_user("kb")
    on_beehive = await on_a.beehive.login(uid, terminal=1)
    await asyncio.sleep(0.1)
    await on_b.xmmep.login(name)
    assert (await on_beehive.expect(b.KICK)).msg.code == 20009


async def test_a_cli_command_on_a_nodes_configuration_leaves_its_sessions_alone(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, _ = nodes
    uid, _ = pair[0].add_user("cli")
    await on_a.beehive.login(uid)
    await asyncio.sleep(0.1)
    assert _listed(pair[1], uid)
    added = polyim("user", "add", f"cli-made-{uid}", "--password", "pw", config=pair[0].config)
    assert added.returncode == 0, added.stderr
    await asyncio.sleep(0.5)
    assert _listed(pair[1], uid)  # node B still knows node A's session: the CLI never joined as node A


async def test_a_token_issued_by_one_node_works_on_the_other(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, on_b = nodes
    uid, _ = pair[0].add_user("tok")
    client = await on_b.beehive.connect()
    token = on_a.beehive.token(uid, client.sid)  # signed by node A
    assert (await client.online(uid, token)).code == 0  # accepted by node B


async def test_iplist_hands_out_the_least_loaded_live_node(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, _ = nodes
    for _ in range(3):  # load node A
        await on_a.beehive.user("load")
    uid, _ = pair[0].add_user("ip")
    deadline = time.monotonic() + 20  # node reports every 5 s, read every 2 s
    while True:
        status, got = http(
            pair[0], "/im/iplist", form={"type": 1, "uid": uid, "sid": 7_000_001}, token="test-admin-token"
        )
        assert status == 200 and got["code"] == 0, got
        if got["list"] == [f"127.0.0.1:{pair[1].beehive_tcp}"]:
            break  # node A answers with node B's gateway
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.5)


async def test_xmmep_login_info_names_the_least_loaded_live_node(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, _ = nodes
    for _ in range(3):  # load node A's XMMEP TCP listener
        await on_a.xmmep.user("xload")
    asker = await on_a.xmmep.connect()
    deadline = time.monotonic() + 20  # listeners are reported every 5 s
    while True:
        asker.send(110, "anyone")
        got = await asker.expect(111)
        if (got.field(0), got.field(2)) == ("0", str(pair[1].xmmep_tcp)):
            break  # node A names node B's listener
        assert time.monotonic() < deadline, got.fields
        await asyncio.sleep(0.5)


async def test_teamtalk_login_server_names_the_least_loaded_live_msg_server(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    on_a, _ = nodes
    for _ in range(3):  # load node A's TeamTalk msg listener
        await on_a.teamtalk.user("tload")
    deadline = time.monotonic() + 20  # listeners are reported every 5 s
    while (answer := await msg_server("127.0.0.1", pair[0].teamtalk_login)) != (
        "127.0.0.1",
        pair[1].teamtalk_msg,
    ):  # node A's login server names node B's msg server
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.5)


async def upload(alice: Any, to: str, name: str, content: bytes, file_port: int) -> str:
    """An offline file from ``alice`` to ``to`` through her node's file server (6/10, 6/1, pulls, 6/18)."""
    offer = await offer_file(alice, to, name, len(content), ONLINE)  # nobody on her node: offline
    assert (offer.result, offer.mode, offer.port) == (0, OFFLINE, file_port)
    uploader, result = await file_login(offer.port, alice.uid, offer.task_id, UPLOAD)
    assert result == 0
    await serve_pulls(uploader, offer.task_id, alice.uid, content)
    await uploader.close()
    alice.send(6, 18, Body().s(alice.uid).s(to).s(offer.task_id).s(name).u32(len(content)).done())
    return offer.task_id


async def test_an_offline_file_uploaded_on_one_node_is_downloaded_on_the_other(
    nodes: tuple[Pools, Pools], pair: tuple[Server, Server]
) -> None:
    """The bytes are in PostgreSQL (large objects) and the record too: bob, on node B, is told by B, lists
    it on B and downloads it from B's file server; bob's delete on B is seen on A; an imlc user's link,
    signed by node A, is served by node B too (a load balancer in front of the HTTP listeners)."""
    on_a, on_b = nodes
    alice, _ = await on_a.teamtalk.user("fa")
    bob, _ = await on_b.teamtalk.user("fb")
    content = os.urandom(150_000)
    task = await upload(alice, bob.uid, "cross.bin", content, pair[0].teamtalk_file)
    ready = await file_notice(bob, ready=1)
    assert (ready.task_id, ready.port) == (task, pair[1].teamtalk_file)
    assert parse(await bob.request(6, 16, b"", (6, 17)), "u32")[0] == 1
    assert await download(ready.port, bob.uid, task, alice.uid) == content
    bob.send(6, 19, Body().s(alice.uid).s(bob.uid).s(task).done())
    assert parse(await bob.request(6, 16, b"", (6, 17)), "u32")[0] == 0
    downloader, result = await file_login(pair[0].teamtalk_file, bob.uid, task, 4)
    assert result != 0  # node A no longer serves it either
    await downloader.close()

    carol, _ = await on_b.imlc.user("fc")
    text = b"a file for another protocol on another node\n" * 50
    await upload(alice, str(carol.uid), "report.txt", text, pair[0].teamtalk_file)
    mn = await carol.expect(Command.MN)
    url = mn.message_content.remote_media_url
    assert f":{pair[0].http}/teamtalk/files/" in url  # the link names node A, which signed it
    on_b_url = url.replace(f":{pair[0].http}/", f":{pair[1].http}/")  # node B serves it all the same
    assert await asyncio.to_thread(lambda: urllib.request.urlopen(on_b_url, timeout=10).read()) == text


async def test_a_node_killed_mid_stream_loses_only_its_connections(tmp_path: Path) -> None:
    """Three nodes; alice (OMTP, node A) streams to bob (beehive, node B) and carol (beehive, node C);
    node B is killed with kill -9 in the middle. Bob's session leaves the directory within the TTL, bob is
    back on a live node (over imlc) and every message acked to him is in his history."""
    pg_url, redis = shared_postgres().database(), RedisServer()  # a cluster of its own
    servers = [start_node(tmp_path / n, i, pg_url, redis.url) for i, n in enumerate("abc", 1)]
    a, b_, _ = servers
    pools = [Pools.of(s) for s in servers]
    try:
        alice = await pools[0].omtp.user("ka")
        bob_uid, bob_name = a.add_user("kb")
        await pools[1].beehive.login(bob_uid)
        carol_uid, _ = a.add_user("kc")
        carol = await pools[2].beehive.login(carol_uid)
        await asyncio.sleep(0.1)
        to_bob: list[str] = []
        to_carol: list[str] = []
        for i in range(30):
            if i == 10:
                b_.proc.send_signal(signal.SIGKILL)  # mid-stream
                b_.proc.wait()
            for uid, acked in ((str(bob_uid), to_bob), (str(carol_uid), to_carol)):
                text = f"m{i} to {uid}"
                assert (await alice.send_single(uid, text)).ok
                acked.append(text)
        for text in to_carol:  # carol's node never went away: she had every one live
            assert (await carol.expect(b.CHAT)).msg.text == text
        deadline = time.monotonic() + 20  # bob's session leaves the directory within the TTL (10 s)
        while _listed(a, bob_uid):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.5)
        again = await pools[2].imlc.login(bob_name)  # back, on a live node
        pulled = await again.pull(str(alice.uid), limit=100)
        texts = [m.message_content.searchable_content for m in pulled.body.messages]
        assert sorted(texts) == sorted(to_bob) and len(texts) == 30
        for p in pools:
            await p.close()
        assert a.stop(signal.SIGTERM) == 0  # a scaled node with sessions shuts down cleanly
    finally:
        for p in pools:
            await p.close()
        for s in reversed(servers):
            s.stop()
        redis.close()


def _listed(server: Server, uid: int) -> bool:
    """Whether ``server``'s directory has a beehive session of ``uid`` (beehive's /im/query)."""
    _, got = http(server, "/im/query", {"option": "sid-list", "uid": uid}, token="test-admin-token")
    return bool(got["list"])
