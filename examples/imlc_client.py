#!/usr/bin/env python3
"""A small imlc chat client for the terminal: the protocol of docs/protocols/imlc.md in one file.

    python examples/imlc_client.py --user alice --password secret [--host 127.0.0.1] [--port 7300]

Type a line to send it to the current target. imlc names users by decimal uid, not by username: you
see your own uid at login and the sender's on every message; an operator finds anyone's with
``polyim user show NAME`` (or ``polyim user list``). Commands:

    /to <uid>      talk to that user          /group <gid>   talk to that group
    /quit          log out and exit (end of input does the same)

Each event is one line on stdout, so scripts can pipe lines in and read lines out:

    logged in uid=10000 username=alice via=password      (or via=token)
    sync: 2 conversation(s) with new messages
    to user:10001                                        (after /to 10001; /group 7 gives group:7)
    sent user:10001 seq=4
    recv user:10001 seq=5 from=10001: hello
    read user:10001 seq=5 by=10001                       (a read receipt, or your other device)
    recalled user:10001 seq=3
    push: <text>
    error MS NOT_FOUND: <detail>
    kicked: REPLACED <detail>

The token of the first (password) login, the message-id counter, the highest seq held per
conversation and the SYNC position are kept in ``--state`` (a JSON file), so the next start logs in
with the token and fetches only what it missed (SYNC, then MP FORWARD per conversation, §6.3).
Only the standard library and ``protobuf`` are needed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The classes generated from polyim/protocols/imlc/imlc.proto. A client of your own generates them
# itself (`protoc --python_out=. imlc.proto`); this example borrows polyim's checked-in copy, which
# imports nothing but google.protobuf.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "polyim" / "protocols" / "imlc"))
import imlc_pb2 as pb

HEADER = struct.Struct(">IBIBBB")  # len, version, seq, command, flag, status (big-endian, 12 bytes)
VERSION, REQUEST, NOTIFY = 1, 0, 2  # flag bits 1-0 are the flow: 0 request, 1 reply, 2 notify
LOGIN, LOGOUT, PING, MS, MP, MN, MR, MPS, READ, SYNC = range(1, 11)
# The body type of each reply and notify (§3); PING and MR replies have no body.
REPLIES = {LOGIN: pb.LoginReply, MS: pb.SendAck, MP: pb.PullReply, READ: pb.ReadCursor, SYNC: pb.SyncReply}
NOTIFIES = {LOGOUT: pb.Logout, MN: pb.Message, MPS: pb.Push, READ: pb.ReadCursor}
SINGLE, GROUP = pb.CONVERSATION_TYPE_SINGLE, pb.CONVERSATION_TYPE_GROUP


def parse(types: dict[int, Any], command: int, body: bytes) -> Any:
    return types[command].FromString(body) if command in types else None


def status_name(status: int) -> str:
    return pb.Status.Name(status).removeprefix("STATUS_") if status in pb.Status.values() else str(status)


def conv_key(conv: Any) -> str:
    """``user:<uid>`` or ``group:<gid>``: how this client names a conversation (and stores it)."""
    return f"{'group' if conv.type == GROUP else 'user'}:{conv.target}"


def conv_of(key: str) -> Any:
    kind, target = key.split(":")
    return pb.Conversation(type=GROUP if kind == "group" else SINGLE, target=target)


class Failed(Exception):
    """A reply with a non-zero status; the request had no effect."""

    def __init__(self, command: int, status: int, detail: str) -> None:
        super().__init__(
            f"error {pb.Command.Name(command).removeprefix('COMMAND_')} {status_name(status)}: {detail}"
        )
        self.status = status


class Client:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]
    ) -> None:
        self.reader, self.writer, self.state = reader, writer, state
        self.seqs = itertools.count(1)  # request numbers; replies are paired by them (§1.3)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.closed = asyncio.Event()
        self.last_sent = time.monotonic()
        self.tasks: set[asyncio.Task[None]] = set()  # background work (heartbeat, gap fills)

    def spawn(self, work: Any) -> None:
        """Run ``work`` in the background; a failure is printed, not lost."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and isinstance(task.exception(), Failed):
            print(task.exception(), flush=True)

    # -- frames ----------------------------------------------------------------------------------------
    async def request(self, command: int, body: Any = None) -> Any:
        """Send a request and wait for its reply's body (None when empty); raise Failed on a status."""
        seq = next(self.seqs)
        data = body.SerializeToString() if body is not None else b""
        self.waiting[seq] = fut = asyncio.get_running_loop().create_future()
        self.writer.write(HEADER.pack(len(data), VERSION, seq, command, REQUEST, 0) + data)
        self.last_sent = time.monotonic()
        return await fut

    async def read_frames(self) -> None:
        """Read the stream: 12 header bytes, then ``len`` body bytes; replies wake their request."""
        try:
            while True:
                head = await self.reader.readexactly(HEADER.size)
                length, _version, seq, command, flag, status = HEADER.unpack(head)
                body = await self.reader.readexactly(length)
                if flag & 3 == NOTIFY:
                    self.on_notify(command, parse(NOTIFIES, command, body))
                elif (fut := self.waiting.pop(seq, None)) is not None and not fut.done():
                    if status:
                        fut.set_exception(Failed(command, status, pb.Error.FromString(body).detail))
                    else:
                        fut.set_result(parse(REPLIES, command, body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the server closed the connection
        except Exception as exc:  # e.g. a body that does not parse: this stream cannot be trusted
            print(f"error: bad frame from the server: {exc!r}", flush=True)
        finally:
            self.closed.set()
            for fut in self.waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    async def heartbeat(self, every: int) -> None:
        """PING when nothing was sent for ``heartbeat_s`` (the server closes idle sessions)."""
        while not self.closed.is_set():
            await asyncio.sleep(max(1.0, self.last_sent + every - time.monotonic()))
            if time.monotonic() - self.last_sent >= every:
                await self.request(PING)

    # -- what arrives unasked --------------------------------------------------------------------------
    def on_notify(self, command: int, body: Any) -> None:
        if command == MN:
            self.show(body)
            held = self.held(conv_key(body.conversation))
            if body.seq > held + 1:  # a gap: fetch what lies between (§3.6)
                self.spawn(self.pull_forward(conv_key(body.conversation), held))
        elif command == READ:
            print(f"read {conv_key(body.conversation)} seq={body.read_seq} by={body.reader}", flush=True)
        elif command == MPS:
            print(f"push: {body.text}", flush=True)
        elif command == LOGOUT:  # kicked; do not reconnect by yourself after REPLACED, ADMIN, DISABLED
            reason = pb.LogoutReason.Name(body.reason).removeprefix("LOGOUT_REASON_")
            print(f"kicked: {reason} {body.detail}", flush=True)

    def show(self, msg: Any) -> None:
        """Print a message and remember its seq (messages are keyed by conversation and seq)."""
        key = conv_key(msg.conversation)
        if msg.status == pb.MESSAGE_STATUS_RECALLED:
            print(f"recalled {key} seq={msg.seq}", flush=True)
        elif msg.seq:  # seq 0 is a transient frame (typing): nothing to keep
            content = msg.message_content
            text = content.searchable_content
            kind = content.content_type
            if kind != pb.MESSAGE_CONTENT_TYPE_TEXT:  # 9 and above are custom types, with no name
                name = (
                    pb.MessageContentType.Name(kind)[21:].lower()
                    if kind in pb.MessageContentType.values()
                    else kind
                )
                text = f"[{name}] {text}"
            print(f"recv {key} seq={msg.seq} from={getattr(msg, 'from')}: {text}", flush=True)
        self.hold(key, msg.seq)

    def held(self, key: str) -> int:
        return int(self.state["held"].get(key, 0))

    def hold(self, key: str, seq: int) -> None:
        self.state["held"][key] = max(self.held(key), seq)

    # -- requests --------------------------------------------------------------------------------------
    async def login(self, user: str, password: str | None) -> None:
        """Token login when a token is stored, else (or when it is refused) the password."""
        base = {
            "device_id": self.state["device_id"],
            "device_class": pb.DEVICE_CLASS_DESKTOP,
            "client_version": "example/1",
        }
        attempts = []
        if self.state.get("token"):
            attempts.append(
                ("token", pb.LoginRequest(uid=self.state["uid"], token=self.state["token"], **base))
            )
        if password is not None:
            attempts.append(("password", pb.LoginRequest(username=user, password=password, **base)))
        if not attempts:
            raise SystemExit("no stored token for this user: give --password")
        for i, (how, req) in enumerate(attempts):
            try:
                reply = await self.request(LOGIN, req)
            except Failed as exc:
                if i + 1 < len(attempts) and exc.status == pb.STATUS_AUTH_FAILED:
                    continue  # the token expired: fall back to the password
                raise
            self.state.update(uid=reply.uid, token=reply.token)
            print(f"logged in uid={reply.uid} username={reply.username} via={how}", flush=True)
            self.spawn(self.heartbeat(reply.heartbeat_s or 30))
            return

    async def catch_up(self) -> None:
        """SYNC pages from the stored position, then MP FORWARD in every conversation with news (§6.3)."""
        changed, token = [], b""
        try:
            while True:
                page = await self.request(
                    SYNC, pb.SyncRequest(since_ms=self.state["since_ms"], page_token=token)
                )
                changed += [s for s in page.conversations if s.last_seq > self.held(conv_key(s.conversation))]
                if not page.has_more:
                    break
                token = page.page_token
        except Failed as exc:  # SYNC is polyim's addition: elsewhere, catch up the conversations we know
            print(exc, flush=True)
            keys = list(self.state["held"])
        else:
            self.state["since_ms"] = page.next_since_ms
            keys = [conv_key(s.conversation) for s in changed]
            print(f"sync: {len(keys)} conversation(s) with new messages", flush=True)
        for key in keys:
            await self.pull_forward(key, self.held(key))

    async def pull_forward(self, key: str, anchor: int) -> None:
        while True:
            req = pb.PullRequest(
                conversation=conv_of(key), anchor_seq=anchor, direction=pb.PULL_DIRECTION_FORWARD, limit=100
            )
            page = await self.request(MP, req)
            for msg in page.messages:
                if msg.seq > self.held(key):
                    self.show(msg)
            if not page.has_more or not page.messages:
                return
            anchor = page.messages[-1].seq

    async def send(self, key: str, text: str) -> None:
        # message_id must stay unique per device across restarts: a reused one is taken for a resend.
        self.state["message_id"] = message_id = max(self.state["message_id"] + 1, time.time_ns() // 1000)
        content = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TEXT, searchable_content=text)
        ack = await self.request(
            MS, pb.Message(message_id=message_id, message_content=content, conversation=conv_of(key))
        )
        self.hold(key, ack.seq)
        print(f"sent {key} seq={ack.seq}", flush=True)


# -- the terminal ----------------------------------------------------------------------------------------
def stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of stdin, read by a daemon thread (it never holds up the exit); None at the end."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(lines.put_nowait, None)
        except RuntimeError:  # the loop is gone: the client is exiting
            pass

    threading.Thread(target=pump, daemon=True).start()
    return lines


async def chat(client: Client) -> None:
    lines = stdin_lines(asyncio.get_running_loop())
    target = ""
    while True:
        get = asyncio.ensure_future(lines.get())
        closed = asyncio.ensure_future(client.closed.wait())
        await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if not get.done():
            get.cancel()
            return  # the server closed the connection
        line = get.result()
        if line is None or line.strip() == "/quit":
            return
        word, _, arg = line.strip().partition(" ")
        if word in ("/to", "/group") and arg.isdigit():
            target = f"{'user' if word == '/to' else 'group'}:{arg}"
            print(f"to {target}", flush=True)
        elif word.startswith("/"):
            print("commands: /to <uid>, /group <gid>, /quit", flush=True)
        elif not target:
            print("no target yet: /to <uid> or /group <gid>", flush=True)
        elif line.strip():
            try:
                await client.send(target, line)
            except Failed as exc:
                print(exc, flush=True)


async def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--user", required=True, help="username")
    p.add_argument("--password", help="needed at the first login; later the stored token is used")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7300)
    p.add_argument("--state", type=Path, help="state file (default ~/.imlc_client/USER@HOST_PORT.json)")
    args = p.parse_args()
    path = args.state or Path.home() / ".imlc_client" / f"{args.user}@{args.host}_{args.port}.json"
    state = {"device_id": "example-" + secrets.token_hex(6), "message_id": 0, "held": {}, "since_ms": 0}
    state |= json.loads(path.read_text()) if path.exists() else {}
    reader, writer = await asyncio.open_connection(args.host, args.port)
    client = Client(reader, writer, state)
    frames = asyncio.ensure_future(client.read_frames())
    try:
        await client.login(args.user, args.password)
        await client.catch_up()
        await chat(client)
        if not client.closed.is_set():  # LOGOUT has no reply: the server ends the session and closes
            writer.write(HEADER.pack(0, VERSION, next(client.seqs), LOGOUT, REQUEST, 0))
            await writer.drain()
    except (Failed, ConnectionError) as exc:
        print(exc, flush=True)
        return 1
    finally:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state, indent=1))
        writer.close()
        frames.cancel()
        for task in list(client.tasks):
            task.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
