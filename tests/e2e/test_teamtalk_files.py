"""TeamTalk file transfer through real sockets (teamtalk.md §3.6, §4.8, §4.9, §8.3): an online relay
paced by a slow receiver (intact by sha256, the server's memory bounded), an offline upload pulled in
64 KiB segments then downloaded and deleted, file logins in the Windows form accepted and strangers'
refused, the size limit and quota, and a file for a user of another protocol as a link."""

from __future__ import annotations

import asyncio
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command
from tests.clients.teamtalk import (
    ANDROID,
    Body,
    TeamTalkClient,
    chunk_of,
    data,
    file_login,
    file_notice,
    offer_file,
    parse,
    pull,
    pulled,
)
from tests.conftest import Server
from tests.e2e.conftest import Imlc, TeamTalk

ONLINE, OFFLINE = 1, 2
SENDER, RECEIVER, UPLOAD, DOWNLOAD = 1, 2, 3, 4
MB = 1024 * 1024


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_an_online_transfer_of_50_mb_to_a_slow_reader_is_relayed_intact_in_bounded_memory(
    server: Server, teamtalk: TeamTalk
) -> None:
    alice, _ = await teamtalk.user("fa")
    bob, _ = await teamtalk.user("fb")
    size = 50 * MB
    offer = await offer_file(alice, bob.uid, "big.bin", size, ONLINE)
    assert (offer.result, offer.mode, offer.port) == (0, ONLINE, server.teamtalk_file)
    notice = await file_notice(bob)
    assert (notice.task_id, notice.mode) == (offer.task_id, ONLINE)
    sender, ok = await file_login(offer.port, alice.uid, offer.task_id, SENDER)
    receiver, ok2 = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER)
    assert ok == ok2 == 0
    ready = await receiver.wait_for((6, 3))
    assert parse(ready, "u32", "s", "s") == [0, offer.task_id, bob.uid]  # PEER_READY to the second party
    block = os.urandom(MB)
    expected = hashlib.sha256(block * 50).hexdigest()
    before = rss_kib(server.proc.pid)
    peak = before

    async def send_all() -> None:  # the sender pushes everything; the server must pace it
        for i in range(50):
            data(sender, offer.task_id, i * MB, block)
            await sender.writer.drain()

    async def read_slowly() -> str:
        nonlocal peak
        digest, got = hashlib.sha256(), 0
        while got < size:
            f = await receiver.wait_for((6, 5), timeout=30)
            result, task, user, offset, chunk = chunk_of(f)
            assert (result, task, user, offset) == (0, offer.task_id, alice.uid, got)
            digest.update(chunk)
            got += len(chunk)
            peak = max(peak, rss_kib(server.proc.pid))
            await asyncio.sleep(0.02)
        return digest.hexdigest()

    sent = asyncio.ensure_future(send_all())
    assert await read_slowly() == expected
    await sent
    assert peak - before < 30 * 1024, (before, peak)  # the 50 MB never sat in the server
    receiver.send(6, 3, Body().u32(3).s(offer.task_id).s(bob.uid).done())  # DONE, relayed
    done = await sender.wait_for((6, 3))
    assert parse(done, "u32", "s", "s") == [3, offer.task_id, bob.uid]
    assert await sender.wait_closed() and await receiver.wait_closed()
    await sender.close()
    await receiver.close()


async def test_the_receiver_pulls_and_the_sender_answers_through_the_relay(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("fa")
    bob, _ = await teamtalk.user("fb")
    offer = await offer_file(alice, bob.uid, "hello.txt", 5, ONLINE)
    sender, _ = await file_login(offer.port, alice.uid, offer.task_id, SENDER)
    receiver, _ = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER)
    pull(receiver, offer.task_id, ONLINE, 0, 5 * MB)  # asks more than 1 MiB: capped when relayed
    asked = await sender.wait_for((6, 4))
    assert pulled(asked) == (offer.task_id, bob.uid, ONLINE, 0, MB)
    data(sender, offer.task_id, 0, b"hello", reserved=asked.reserved)
    got = await receiver.wait_for((6, 5))
    assert chunk_of(got) == (0, offer.task_id, alice.uid, 0, b"hello") and got.reserved == asked.reserved
    await sender.close()  # the sender leaves after the whole file: the task ends, the receiver is closed
    assert await receiver.wait_closed(12)
    await receiver.close()


async def test_file_logins_are_for_the_two_parties_only(server: Server, teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("fa")
    bob, _ = await teamtalk.user("fb")
    carol, _ = await teamtalk.user("fc")
    offer = await offer_file(alice, bob.uid, "x.txt", 10, ONLINE)
    third, result = await file_login(offer.port, carol.uid, offer.task_id, RECEIVER)
    assert result == 4 and await third.wait_closed()  # logged in, but not a party
    stranger_uid, _ = server.add_user("fs")
    nobody, result = await file_login(offer.port, str(stranger_uid), offer.task_id, RECEIVER)
    assert result == 3 and await nobody.wait_closed()  # no token, no msg session from this address
    forged, result = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER, token="tk.forged")
    assert result == 0  # bob has a live msg session from this address: the Windows login (§8.3 (b))
    twice, result = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER)
    assert result == 4 and await twice.wait_closed()  # the role is taken
    unknown, result = await file_login(offer.port, alice.uid, "00" * 16, SENDER)
    assert result == 1 and await unknown.wait_closed()
    with_token, result = await file_login(offer.port, alice.uid, offer.task_id, UPLOAD, token=alice.token)
    assert result == 4  # mode 3 on an online task
    for client in (third, nobody, forged, twice, unknown, with_token):
        await client.close()


async def serve_pulls(
    uploader: TeamTalkClient, task_id: str, uid: str, content: bytes, *, short_at: int = -1
) -> list[int]:
    """Answer the file server's 6/4 pulls of an offline upload with ``content`` (the segment at
    ``short_at`` is sent short once), until its 6/3 DONE; returns the offsets pulled, in order."""
    offsets: list[int] = []
    while True:
        f = await uploader.wait_for((6, 4))
        task, user, mode, offset, size = pulled(f)
        assert (task, user, mode, f.reserved) == (task_id, uid, OFFLINE, 0)
        assert size == min(65536, len(content) - offset)
        offsets.append(offset)
        if offset == short_at and offsets.count(offset) == 1:
            data(uploader, task, offset, content[offset : offset + 10])  # short: pulled again
            continue
        data(uploader, task, offset, content[offset : offset + size])
        if offset + size == len(content):
            break
    done = await uploader.wait_for((6, 3))
    assert parse(done, "u32", "s", "s") == [3, task_id, uid]
    return offsets


async def download(port: int, uid: str, task_id: str, sender: str) -> bytes:
    """A recipient's offline download, pulled in 40,000-byte pieces until the empty one."""
    downloader, result = await file_login(port, uid, task_id, DOWNLOAD)
    assert result == 0
    got = b""
    while True:
        rsv = pull(downloader, task_id, OFFLINE, len(got), 40_000)
        f = await downloader.wait_for((6, 5), lambda f, rsv=rsv: f.reserved == rsv)
        result, task, user, offset, chunk = chunk_of(f)
        assert (result, task, user, offset) == (0, task_id, sender, len(got))
        if not chunk:
            break
        got += chunk
    assert parse(await downloader.wait_for((6, 3)), "u32", "s", "s") == [3, task_id, uid]
    assert await downloader.wait_closed()
    await downloader.close()
    return got


async def test_an_offline_file_is_pulled_in_segments_kept_downloaded_and_deleted(
    server: Server, teamtalk: TeamTalk
) -> None:
    alice, _ = await teamtalk.user("fa")
    bob, _ = await teamtalk.user("fb", client_type=ANDROID)  # mobile: an online offer becomes offline
    content = os.urandom(150_000)
    offer = await offer_file(alice, bob.uid, "../../etc/notes.txt", len(content), ONLINE)
    assert (offer.result, offer.mode) == (0, OFFLINE)
    uploader, result = await file_login(offer.port, alice.uid, offer.task_id, UPLOAD)
    assert result == 0
    offsets = await serve_pulls(uploader, offer.task_id, alice.uid, content, short_at=65536)
    assert offsets == [0, 65536, 65536, 131072]  # the short segment was pulled again
    alice.send(6, 18, Body().s(alice.uid).s(bob.uid).s(offer.task_id).s("notes.txt").u32(len(content)).done())
    ready = await file_notice(bob, ready=1)
    assert (ready.task_id, ready.mode) == (offer.task_id, OFFLINE)
    listing = await bob.request(6, 16, b"", (6, 17))
    r = listing.fields()
    assert r.u32() == 1 and [r.s(), r.s(), r.s(), r.u32()] == [
        alice.uid,
        offer.task_id,
        "notes.txt",
        len(content),
    ]
    assert await download(offer.port, bob.uid, offer.task_id, alice.uid) == content
    alice.send(6, 19, Body().s(alice.uid).s(bob.uid).s(offer.task_id).done())  # not the recipient: ignored
    assert parse(await bob.request(6, 16, b"", (6, 17)), "u32")[0] == 1
    bob.send(6, 19, Body().s(alice.uid).s(bob.uid).s(offer.task_id).done())
    assert parse(await bob.request(6, 16, b"", (6, 17)), "u32")[0] == 0
    await uploader.close()


async def test_offline_size_limit_and_quota(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("fq")
    bob, _ = await teamtalk.user("fr")
    assert (await offer_file(alice, bob.uid, "empty", 0, OFFLINE)).result == 2
    assert (await offer_file(alice, bob.uid, "huge", 101 * MB, OFFLINE)).result == 2
    for _ in range(10):
        assert (await offer_file(alice, bob.uid, "part", 100 * MB, OFFLINE)).result == 0
    assert (await offer_file(alice, bob.uid, "one more", 30 * MB, OFFLINE)).result == 2  # 1 GiB waiting
    assert (await offer_file(alice, "99999999999", "nobody", 10, OFFLINE)).result == 2
    forged = Body().s(bob.uid).s(alice.uid).s("f").u32(1).u32(OFFLINE).done()
    alice.send(6, 10, forged)
    assert await alice.wait_closed()


async def test_a_file_for_an_imlc_user_arrives_as_a_message_with_a_signed_link(
    server: Server, teamtalk: TeamTalk, imlc: Imlc
) -> None:
    alice, _ = await teamtalk.user("fl")
    other, _ = await imlc.user("fi")
    content = b"for another protocol\n" * 100
    offer = await offer_file(alice, other.uid, "report.txt", len(content), ONLINE)
    assert (offer.result, offer.mode) == (0, OFFLINE)  # no TeamTalk PC session: offline
    uploader, _ = await file_login(offer.port, alice.uid, offer.task_id, UPLOAD)
    f = await uploader.wait_for((6, 4))
    data(uploader, offer.task_id, 0, content, reserved=f.reserved)
    await uploader.wait_for((6, 3))
    alice.send(
        6, 18, Body().s(alice.uid).s(other.uid).s(offer.task_id).s("report.txt").u32(len(content)).done()
    )
    mn = await other.expect(Command.MN)  # imlc names the kind and has a field for the link (imlc.md §8.4)
    assert (
        mn.message_content.content_type == pb.MESSAGE_CONTENT_TYPE_FILE and getattr(mn, "from") == alice.uid
    )
    assert mn.message_content.searchable_content == "[file] report.txt"
    url = mn.message_content.remote_media_url
    assert f":{server.http}/teamtalk/files/{offer.task_id}?token=" in url
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    assert body == content
    with pytest.raises(urllib.error.HTTPError) as err:
        await asyncio.to_thread(lambda: urllib.request.urlopen(url + "x", timeout=10).read())
    assert err.value.code == 404
    await alice.none_of((3, 1))  # the sender's own TeamTalk session gets no text copy
    await uploader.close()


async def test_the_file_server_sends_a_heartbeat_after_five_seconds_of_silence(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("fh")
    bob, _ = await teamtalk.user("fj")
    offer = await offer_file(alice, bob.uid, "wait.txt", 10, ONLINE)
    sender, _ = await file_login(offer.port, alice.uid, offer.task_id, SENDER)
    beat = await sender.wait_for((7, 1), timeout=8)
    assert beat.reserved == 0 and beat.body == b""
    await sender.close()


async def test_a_refusal_and_a_party_leaving_midway_end_the_task_for_both(teamtalk: TeamTalk) -> None:
    """§4.8: a 6/3 REFUSE is relayed and ends the task (both file connections closed); a sender who
    leaves before the whole file has gone ends it with 6/3 CANCEL naming the sender."""
    alice, _ = await teamtalk.user("fr")
    bob, _ = await teamtalk.user("fs")
    offer = await offer_file(alice, bob.uid, "no.txt", 10, ONLINE)
    sender, _ = await file_login(offer.port, alice.uid, offer.task_id, SENDER)
    receiver, _ = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER)
    await receiver.wait_for((6, 3))  # PEER_READY
    receiver.send(6, 3, Body().u32(2).s(offer.task_id).s(bob.uid).done())
    refused = await sender.wait_for((6, 3))
    assert parse(refused, "u32", "s", "s") == [2, offer.task_id, bob.uid]
    assert await sender.wait_closed() and await receiver.wait_closed()
    offer = await offer_file(alice, bob.uid, "half.txt", 10, ONLINE)
    sender, _ = await file_login(offer.port, alice.uid, offer.task_id, SENDER)
    receiver, _ = await file_login(offer.port, bob.uid, offer.task_id, RECEIVER)
    pull(receiver, offer.task_id, ONLINE, 0, 10)
    asked = await sender.wait_for((6, 4))
    data(sender, offer.task_id, 0, b"hello", reserved=asked.reserved)  # 5 of 10 bytes
    await receiver.wait_for((6, 5))
    await sender.close()
    cancel = await receiver.wait_for((6, 3), lambda f: parse(f, "u32")[0] == 1)
    assert parse(cancel, "u32", "s", "s") == [1, offer.task_id, alice.uid]
    assert await receiver.wait_closed()
