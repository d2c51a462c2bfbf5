"""imlc codec: the golden vectors of imlc.md §6 byte for byte, the connect flag (§2.2), incremental
framing, and every bad-frame rule of §2.5 mapped to the answer it calls for."""

from __future__ import annotations

import zlib
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest
from google.protobuf.message import Message

from polyim.protocols.base import ProtocolError
from polyim.protocols.imlc import imlc_pb2 as pb
from polyim.protocols.imlc.codec import (
    CLIENT_COMMANDS,
    DEFAULT_MAX_BODY,
    HEADER,
    HEADER_SIZE,
    NOTIFY_TYPES,
    REPLY_TYPES,
    REQUEST_TYPES,
    Command,
    Decoder,
    ErrorKind,
    Flow,
    Frame,
    ImlcDecodeError,
    Status,
    body_type,
    check_request,
    decode_body,
    encode_body,
    encode_frame,
    inflate,
)

# --------------------------------------------------------------------------------------------------
# §6 golden vectors: the page's hex dumps (offset columns dropped) and the values they encode.

SERVER_ID = 7401738462003200001
T_MSG = 1764547200123


def _message(target: str, **server: Any) -> pb.Message:
    content = None if server.get("status") else pb.MessageContent(content_type=1, searchable_content="hello")
    return pb.Message(
        message_id=1,
        message_content=content,
        conversation=pb.Conversation(type=pb.CONVERSATION_TYPE_SINGLE, target=target),
        to="10001",
        **{"from": "10000"},
        **server,
    )


@dataclass(frozen=True)
class Vector:
    name: str
    command: int
    seq: int
    flow: Flow
    status: int
    body: Message | None
    hex: str


MN_FIELDS = {"server_id": SERVER_ID, "seq": 1, "server_time_ms": T_MSG}
VECTORS = [
    Vector(
        "V1 LOGIN request",
        Command.LOGIN,
        1,
        Flow.REQUEST,
        0,
        pb.LoginRequest(
            username="alice",
            password="secret-1",
            device_id="dev-a1",
            device_class=pb.DEVICE_CLASS_MOBILE,
            client_version="demo/1.0",
        ),
        "00 00 00 25 01 00 00 00 01 01 00 00 12 05 61 6c 69 63 65 1a 08 73 65 63 72 65 74 2d 31 2a 06 64"
        " 65 76 2d 61 31 30 02 3a 08 64 65 6d 6f 2f 31 2e 30",
    ),
    Vector(
        "V2 LOGIN reply",
        Command.LOGIN,
        1,
        Flow.REPLY,
        0,
        pb.LoginReply(
            uid="10000",
            username="alice",
            nickname="Alice",
            token="tok-EXAMPLE",
            token_expires_ms=1767225600000,
            server_time_ms=1764547200000,
            heartbeat_s=30,
            max_body_bytes=1048576,
        ),
        "00 00 00 36 01 00 00 00 01 01 01 00 0a 05 31 30 30 30 30 12 05 61 6c 69 63 65 1a 05 41 6c 69 63"
        " 65 22 0b 74 6f 6b 2d 45 58 41 4d 50 4c 45 28 80 d0 ea b6 b7 33 30 80 88 d6 b9 ad 33 38 1e 40 80"
        " 80 40",
    ),
    Vector(
        "V3 MS request",
        Command.MS,
        2,
        Flow.REQUEST,
        0,
        _message("10001"),
        "00 00 00 24 01 00 00 00 02 04 00 00 08 01 12 09 08 01 12 05 68 65 6c 6c 6f 1a 07 12 05 31 30 30"
        " 30 31 22 05 31 30 30 30 30 2a 05 31 30 30 30 31",
    ),
    Vector(
        "V4 MS reply",
        Command.MS,
        2,
        Flow.REPLY,
        0,
        pb.SendAck(message_id=1, server_id=SERVER_ID, seq=1, server_time_ms=T_MSG),
        "00 00 00 15 01 00 00 00 02 04 01 00 08 01 10 81 80 b0 a0 a4 bd 90 dc 66 18 01 20 fb 88 d6 b9 ad 33",
    ),
    Vector(
        "V5 MN",
        Command.MN,
        0,
        Flow.NOTIFY,
        0,
        _message("10000", **MN_FIELDS),
        "00 00 00 37 01 00 00 00 00 06 02 00 08 01 12 09 08 01 12 05 68 65 6c 6c 6f 1a 07 12 05 31 30 30"
        " 30 30 22 05 31 30 30 30 30 2a 05 31 30 30 30 31 30 81 80 b0 a0 a4 bd 90 dc 66 38 01 40 fb 88 d6"
        " b9 ad 33",
    ),
    Vector("V6 PING request", Command.PING, 3, Flow.REQUEST, 0, None, "00 00 00 00 01 00 00 00 03 03 00 00"),
    Vector("V7 PING reply", Command.PING, 3, Flow.REPLY, 0, None, "00 00 00 00 01 00 00 00 03 03 01 00"),
    Vector(
        "V8 LOGOUT notify",
        Command.LOGOUT,
        0,
        Flow.NOTIFY,
        0,
        pb.Logout(reason=pb.LOGOUT_REASON_REPLACED, detail="replaced by a newer mobile login"),
        "00 00 00 24 01 00 00 00 00 02 02 00 08 01 12 20 72 65 70 6c 61 63 65 64 20 62 79 20 61 20 6e 65"
        " 77 65 72 20 6d 6f 62 69 6c 65 20 6c 6f 67 69 6e",
    ),
    Vector(
        "V9 LOGIN failure",
        Command.LOGIN,
        1,
        Flow.REPLY,
        Status.AUTH_FAILED,
        pb.Error(detail="bad credentials"),
        "00 00 00 11 01 00 00 00 01 01 01 07 0a 0f 62 61 64 20 63 72 65 64 65 6e 74 69 61 6c 73",
    ),
    Vector(
        "V10 MR request",
        Command.MR,
        4,
        Flow.REQUEST,
        0,
        pb.Recall(conversation=pb.Conversation(target="10001"), seq=1),
        "00 00 00 0b 01 00 00 00 04 07 00 00 0a 07 12 05 31 30 30 30 31 10 01",
    ),
    Vector("V11 MR reply", Command.MR, 4, Flow.REPLY, 0, None, "00 00 00 00 01 00 00 00 04 07 01 00"),
    Vector(
        "V12 MN recall",
        Command.MN,
        0,
        Flow.NOTIFY,
        0,
        _message("10000", **MN_FIELDS, status=pb.MESSAGE_STATUS_RECALLED),
        "00 00 00 2e 01 00 00 00 00 06 02 00 08 01 1a 07 12 05 31 30 30 30 30 22 05 31 30 30 30 30 2a 05"
        " 31 30 30 30 31 30 81 80 b0 a0 a4 bd 90 dc 66 38 01 40 fb 88 d6 b9 ad 33 48 01",
    ),
]
SIZES = {"V1": 49, "V2": 66, "V3": 48, "V4": 33, "V5": 67, "V6": 12, "V7": 12, "V8": 48, "V9": 29}
SIZES |= {"V10": 23, "V11": 12, "V12": 58}
ALL = b"".join(bytes.fromhex(v.hex) for v in VECTORS)
IDS = [v.name for v in VECTORS]


def _body(v: Vector) -> bytes:
    return b"" if v.body is None else encode_body(v.body)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_size_and_header(v: Vector) -> None:
    wire = bytes.fromhex(v.hex)
    assert len(wire) == SIZES[v.name.split()[0]]
    assert HEADER.unpack_from(wire) == (len(wire) - HEADER_SIZE, 1, v.seq, v.command, v.flow, v.status)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_encode(v: Vector) -> None:
    assert encode_frame(v.command, v.seq, v.flow, _body(v), v.status) == bytes.fromhex(v.hex)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_decode(v: Vector) -> None:
    (frame,) = Decoder().feed(bytes.fromhex(v.hex))
    assert frame == Frame(v.command, v.seq, v.flow, v.status, _body(v))
    assert (frame.flow, frame.compression, frame.encryption) == (v.flow, 0, 0)
    if v.body is None:
        assert frame.body == b""
    else:
        assert decode_body(frame.command, inflate(frame), frame.flow, frame.status) == v.body


def test_v3_fields_read_as_the_page_annotates_them() -> None:
    (frame,) = Decoder().feed(bytes.fromhex(VECTORS[2].hex))
    msg = decode_body(frame.command, frame.body)
    assert isinstance(msg, pb.Message)
    assert getattr(msg, "from") == "10000" and msg.to == "10001" and msg.message_id == 1
    assert msg.conversation.type == pb.CONVERSATION_TYPE_SINGLE and msg.conversation.target == "10001"
    assert msg.message_content.content_type == pb.MESSAGE_CONTENT_TYPE_TEXT
    assert msg.message_content.searchable_content == "hello"


def test_client_requests_pass_the_request_checks() -> None:
    for v in VECTORS:
        if v.flow is Flow.REQUEST:
            check_request(Decoder().feed(bytes.fromhex(v.hex))[0])


# --------------------------------------------------------------------------------------------------
# Enums and body tables agree with the schema


def test_command_and_status_enums_match_the_schema() -> None:
    assert {c.name: c.value for c in Command} == {
        n.removeprefix("COMMAND_"): v for n, v in pb.Command.items()
    }
    assert {s.name: s.value for s in Status} == {n.removeprefix("STATUS_"): v for n, v in pb.Status.items()}


def test_body_tables() -> None:
    assert set(REQUEST_TYPES) == CLIENT_COMMANDS - {Command.PING, Command.LOGOUT}
    assert set(NOTIFY_TYPES) == {Command.LOGOUT, Command.MN, Command.MPS, Command.READ, Command.ROOM}
    assert Command.PING not in REPLY_TYPES and Command.MR not in REPLY_TYPES
    assert body_type(Command.MS, Flow.REPLY, Status.NOT_FOUND) is pb.Error
    assert body_type(Command.MS, 3) is None


def test_a_command_without_a_body_type_is_bad_request() -> None:
    with pytest.raises(ImlcDecodeError) as info:
        decode_body(Command.PING, b"")
    assert (info.value.kind, info.value.status, info.value.command) == (
        ErrorKind.REPLY,
        Status.BAD_REQUEST,
        Command.PING,
    )


# --------------------------------------------------------------------------------------------------
# Frames and encoding


def test_frames_are_frozen_slotted_values() -> None:
    frame = Frame(Command.PING, 3)
    with pytest.raises(FrozenInstanceError):
        frame.seq = 4  # type: ignore[misc]
    assert not hasattr(frame, "__dict__")
    assert frame == Frame(Command.PING, 3, 0, 0, b"") and hash(frame) == hash(Frame(Command.PING, 3))
    assert Frame(command=6, body=b"x", seq=2) == Frame(6, 2, 0, 0, b"x")
    with pytest.raises(TypeError, match=r"missing .*'command'"):  # worded by CPython or mypyc
        Frame()  # type: ignore[call-arg]


def test_flag_layout() -> None:
    frame = Frame(Command.MS, flag=0b00_01_10_11)
    assert (frame.compression, frame.encryption, frame.flow) == (1, 2, 3)
    head = encode_frame(Command.MS, 9, Flow.REQUEST, b"x" * 100, gzip=True)
    assert head[10] == 0x10


def test_encode_refuses_out_of_range_and_oversize() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_frame(Command.PING, 2**32, Flow.REQUEST)
    with pytest.raises(ValueError, match="out of range"):
        encode_frame(256, 1, Flow.REQUEST)
    with pytest.raises(ValueError, match="out of range"):
        encode_frame(Command.PING, 1, Flow.REPLY, status=256)
    with pytest.raises(ValueError, match="max_body"):
        encode_frame(Command.MS, 1, Flow.REQUEST, b"x" * 11, max_body=10)
    with pytest.raises(ValueError, match="compressed"):
        encode_frame(Command.MS, 1, Flow.REQUEST, b"x", gzip=True, max_body=10)
    assert len(encode_frame(Command.MS, 1, Flow.REQUEST, b"x" * 10, max_body=10)) == HEADER_SIZE + 10


def test_largest_seq_and_body() -> None:
    wire = encode_frame(Command.MS, 2**32 - 1, Flow.REQUEST, b"\xff" * 64, max_body=64)
    assert Decoder(max_body=64).feed(wire) == [Frame(Command.MS, 2**32 - 1, 0, 0, b"\xff" * 64)]


# --------------------------------------------------------------------------------------------------
# gzip bodies (§2.2)


def test_gzip_body_round_trips_and_is_deterministic() -> None:
    body = encode_body(VECTORS[2].body)  # type: ignore[arg-type]
    wire = encode_frame(Command.MS, 2, Flow.REQUEST, body, gzip=True)
    assert wire == encode_frame(Command.MS, 2, Flow.REQUEST, body, gzip=True)
    (frame,) = Decoder().feed(wire)
    check_request(frame)
    assert frame.compression == 1 and frame.body != body
    assert inflate(frame) == body
    assert decode_body(frame.command, inflate(frame)) == VECTORS[2].body


def test_plain_body_is_not_copied() -> None:
    frame = Frame(Command.MS, body=b"abc")
    assert inflate(frame) is frame.body


def test_gzip_flag_with_len_0_is_an_empty_body() -> None:
    (frame,) = Decoder().feed(HEADER.pack(0, 1, 5, Command.PING, 0x10, 0))
    check_request(frame)
    assert inflate(frame) == b""


def test_concatenated_gzip_members_are_one_body() -> None:
    frame = Frame(Command.MS, 1, 0x10, 0, _gz(b"hel") + _gz(b"lo"))
    assert inflate(frame) == b"hello"


def _gz(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=31)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    "body",
    [b"not gzip", _gz(b"hello")[:-3], _gz(b"hello") + b"junk", zlib.compress(b"zlib, not gzip")],
    ids=["garbage", "truncated", "trailing-garbage", "zlib-stream"],
)
def test_gzip_body_that_does_not_inflate_is_bad_request_kept(body: bytes) -> None:
    with pytest.raises(ImlcDecodeError) as info:
        inflate(Frame(Command.MS, 7, 0x10, 0, body))
    exc = info.value
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY,
        Status.BAD_REQUEST,
        7,
        Command.MS,
    )


def test_gzip_bomb_is_frame_too_large_closed() -> None:
    bomb = _gz(b"\0" * (DEFAULT_MAX_BODY + 1))
    assert len(bomb) < 2048
    with pytest.raises(ImlcDecodeError) as info:
        inflate(Frame(Command.MS, 8, 0x10, 0, bomb))
    exc = info.value
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY_CLOSE,
        Status.FRAME_TOO_LARGE,
        8,
        Command.MS,
    )
    assert inflate(Frame(Command.MS, 8, 0x10, 0, _gz(b"\0" * 100)), max_body=100) == b"\0" * 100
    with pytest.raises(ImlcDecodeError, match="inflates past 99"):
        inflate(Frame(Command.MS, 8, 0x10, 0, _gz(b"\0" * 100)), max_body=99)


# --------------------------------------------------------------------------------------------------
# Incremental framing


def test_all_vectors_in_one_feed() -> None:
    frames = Decoder().feed(ALL)
    assert [(f.command, f.seq, f.flow) for f in frames] == [(v.command, v.seq, v.flow) for v in VECTORS]


def test_byte_at_a_time_gives_the_same_frames() -> None:
    decoder = Decoder()
    frames: list[Frame] = []
    for i in range(len(ALL)):
        frames += decoder.feed(ALL[i : i + 1])
    assert frames == Decoder().feed(ALL)
    assert decoder.buffered == 0


def test_every_two_way_split() -> None:
    whole = Decoder().feed(ALL)
    for cut in range(len(ALL) + 1):
        decoder = Decoder()
        assert decoder.feed(ALL[:cut]) + decoder.feed(ALL[cut:]) == whole


def test_partial_frame_stays_buffered() -> None:
    decoder = Decoder()
    wire = bytes.fromhex(VECTORS[0].hex)
    assert decoder.feed(wire[:5]) == [] and decoder.buffered == 5
    assert decoder.feed(wire[5:20]) == [] and decoder.buffered == 20
    assert decoder.feed(b"") == []
    assert len(decoder.feed(wire[20:] + wire[:3])) == 1 and decoder.buffered == 3


def test_feed_accepts_bytearray_and_memoryview_and_bodies_do_not_alias() -> None:
    decoder = Decoder()
    source = bytearray(bytes.fromhex(VECTORS[2].hex))
    (frame,) = decoder.feed(memoryview(source))
    source[HEADER_SIZE:] = b"\0" * (len(source) - HEADER_SIZE)
    assert type(frame.body) is bytes and frame.body == _body(VECTORS[2])
    assert Decoder().feed(bytearray(bytes.fromhex(VECTORS[5].hex))) == [Frame(Command.PING, 3)]


def test_large_body_trickling_in_is_linear() -> None:
    """A 1 MiB body fed in 4 KiB chunks: each feed only counts bytes, it never re-reads the header."""
    wire = encode_frame(Command.MS, 1, Flow.REQUEST, b"x" * DEFAULT_MAX_BODY)
    decoder = Decoder()
    frames: list[Frame] = []
    for i in range(0, len(wire), 4096):
        frames += decoder.feed(wire[i : i + 4096])
    assert len(frames) == 1 and len(frames[0].body) == DEFAULT_MAX_BODY


def test_decoder_limits() -> None:
    assert Decoder().max_body == DEFAULT_MAX_BODY
    assert Decoder(max_body=0).feed(bytes.fromhex(VECTORS[5].hex)) == [Frame(Command.PING, 3)]
    for bad in (-1, 2**32):
        with pytest.raises(ValueError):
            Decoder(max_body=bad)


# --------------------------------------------------------------------------------------------------
# §2.5 bad frames, each with its answer


def _raw(
    length: int = 0, version: int = 1, seq: int = 5, command: int = 4, flag: int = 0, status: int = 0
) -> bytes:
    return HEADER.pack(length, version, seq, command, flag, status)


def _fatal(wire: bytes, max_body: int = DEFAULT_MAX_BODY) -> ImlcDecodeError:
    decoder = Decoder(max_body)
    with pytest.raises(ImlcDecodeError) as info:
        decoder.feed(wire)
    with pytest.raises(ImlcDecodeError, match="closed after an earlier error"):
        decoder.feed(bytes.fromhex(VECTORS[5].hex))
    return info.value


@pytest.mark.parametrize("flag", [0x40, 0x80, 0xC0, 0xFF])
def test_reserved_flag_bits_close_without_reply(flag: int) -> None:
    exc = _fatal(_raw(flag=flag))
    assert isinstance(exc, ProtocolError) and exc.kind is ErrorKind.CLOSE


def test_reserved_bits_are_checked_before_len_and_version() -> None:
    assert _fatal(_raw(length=2**32 - 1, version=9, flag=0x80)).kind is ErrorKind.CLOSE


def test_oversize_len_replies_frame_too_large_and_closes_before_the_body() -> None:
    exc = _fatal(_raw(length=DEFAULT_MAX_BODY + 1, seq=77, command=Command.MS))
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY_CLOSE,
        Status.FRAME_TOO_LARGE,
        77,
        Command.MS,
    )
    assert _fatal(_raw(length=11), max_body=10).status == Status.FRAME_TOO_LARGE


def test_len_is_checked_before_version() -> None:
    assert _fatal(_raw(length=2**32 - 1, version=2)).status == Status.FRAME_TOO_LARGE


@pytest.mark.parametrize("version", [0, 2, 255])
def test_other_version_replies_unsupported_version_and_closes(version: int) -> None:
    exc = _fatal(_raw(version=version, seq=6, command=Command.LOGIN))
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY_CLOSE,
        Status.UNSUPPORTED_VERSION,
        6,
        Command.LOGIN,
    )


def test_unsupported_version_reply_carries_version_1() -> None:
    exc = _fatal(_raw(version=2, seq=6, command=Command.LOGIN))
    reply = encode_frame(exc.command, exc.seq, Flow.REPLY, status=exc.status)
    assert reply == bytes.fromhex("00 00 00 00 01 00 00 00 06 01 01 02")


def test_frames_before_a_fatal_header_ride_on_the_error() -> None:
    exc = _fatal(ALL + _raw(flag=0x80))
    assert list(exc.frames) == Decoder().feed(ALL)


@pytest.mark.parametrize(
    "flag",
    [0x01, 0x02, 0x03, 0x04, 0x08, 0x0C, 0x20, 0x30, 0x11, 0x14],
    ids=lambda f: f"0x{f:02x}",
)
def test_unsupported_flag_replies_and_keeps(flag: int) -> None:
    decoder = Decoder()
    wire = _raw(length=3, seq=9, command=Command.MS, flag=flag) + b"abc" + bytes.fromhex(VECTORS[5].hex)
    bad, ping = decoder.feed(wire)
    with pytest.raises(ImlcDecodeError) as info:
        check_request(bad)
    exc = info.value
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY,
        Status.UNSUPPORTED_FLAG,
        9,
        Command.MS,
    )
    check_request(ping)


def test_flag_is_checked_before_command() -> None:
    with pytest.raises(ImlcDecodeError) as info:
        check_request(Frame(200, 1, 0x04))
    assert info.value.status == Status.UNSUPPORTED_FLAG


@pytest.mark.parametrize("command", [Command.RESERVED, Command.MN, Command.MPS, 12, 99, 255])
def test_unsupported_command_replies_and_keeps(command: int) -> None:
    (frame,) = Decoder().feed(_raw(length=2, seq=3, command=command) + b"\x08\x01")
    with pytest.raises(ImlcDecodeError) as info:
        check_request(frame)
    exc = info.value
    assert (exc.kind, exc.status, exc.seq, exc.command) == (
        ErrorKind.REPLY,
        Status.UNSUPPORTED_COMMAND,
        3,
        command,
    )


@pytest.mark.parametrize("command", sorted(CLIENT_COMMANDS))
def test_client_commands_pass(command: int) -> None:
    check_request(Frame(command, 1, 0x10))


@pytest.mark.parametrize(
    ("command", "body"),
    [
        (Command.MS, b"\xff\xff"),  # truncated varint key
        (Command.MS, b"\x0a\x05ab"),  # length past the end
        (Command.LOGIN, b"\x12\x02\xc3\x28"),  # username not UTF-8
        (Command.ROOM, b"\x0f"),  # wire type 7
    ],
)
def test_body_that_does_not_parse_is_bad_request_kept(command: int, body: bytes) -> None:
    with pytest.raises(ImlcDecodeError) as info:
        decode_body(command, body)
    assert (info.value.kind, info.value.status, info.value.command) == (
        ErrorKind.REPLY,
        Status.BAD_REQUEST,
        command,
    )


def test_unknown_fields_are_ignored_and_dropped() -> None:
    body = encode_body(pb.Room(rid="5", op=pb.ROOM_OP_JOIN)) + b"\xa0\x06\x01"  # field 100 = 1
    msg = decode_body(Command.ROOM, body)
    assert msg == pb.Room(rid="5", op=pb.ROOM_OP_JOIN)
    assert encode_body(msg) == encode_body(pb.Room(rid="5", op=pb.ROOM_OP_JOIN))


def test_status_in_a_client_frame_is_kept_but_not_checked() -> None:
    (frame,) = Decoder().feed(_raw(command=Command.PING, status=7))
    check_request(frame)
    assert frame.status == 7


def test_bodies_on_ping_and_logout_are_framed_and_left_alone() -> None:
    wire = (
        _raw(length=2, command=Command.PING) + b"\xff\xff" + _raw(length=1, command=Command.LOGOUT) + b"\x00"
    )
    ping, logout = Decoder().feed(wire)
    check_request(ping)
    check_request(logout)
    assert (ping.body, logout.body) == (b"\xff\xff", b"\x00")
    assert body_type(Command.PING) is None and body_type(Command.LOGOUT) is None


def test_empty_body_is_sent_without_the_gzip_bit() -> None:
    assert encode_frame(Command.PING, 3, Flow.REQUEST, gzip=True) == bytes.fromhex(VECTORS[5].hex)
