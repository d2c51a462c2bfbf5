"""beehive codec: golden vectors of beehive.md §7, incremental framing (§2.6), WebSocket messages
(§2.7), and every bad-header case of §2.8 mapped to the reaction it calls for."""

from __future__ import annotations

import time
from dataclasses import FrozenInstanceError, dataclass, fields, replace

import pytest
from google.protobuf.message import EncodeError, Message

from polyim.protocols.base import ProtocolError
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive.codec import (
    BODY_TYPES,
    CMD_ROLES,
    DEFAULT_MAX_FRAME,
    HEADER,
    HEADER_SIZE,
    WS_CLOSE_PROTOCOL_ERROR,
    WS_CLOSE_TOO_BIG,
    BeehiveDecodeError,
    Cmd,
    CmdRole,
    Decoder,
    ErrCode,
    ErrorKind,
    Frame,
    Header,
    check_client_command,
    cmd_role,
    decode_body,
    encode_body,
    encode_frame,
)

# --------------------------------------------------------------------------------------------------
# §7 golden vectors, copied from the spec: header hex as printed (fields separated by spaces), body
# hex, complete frame hex, and the values they encode.

A_UID, A_SID, B_UID, B_SID = 10001, 30001, 10002, 30002
T = 1700000000


@dataclass(frozen=True)
class Vector:
    name: str
    header: Header
    body: Message | None
    header_hex: str
    body_hex: str
    frame_hex: str
    size: int


def _online() -> pb.mesg_online:
    return pb.mesg_online(uid=A_UID, sid=A_SID, token="tok", app="beehive chat", version="1.0.0", terminal=1)


def _chat() -> pb.mesg_chat:
    return pb.mesg_chat(suid=A_UID, duid=B_UID, level=0, time=T, text="hello")


def _chat_ack() -> pb.mesg_chat_ack:
    return pb.mesg_chat_ack(suid=A_UID, duid=B_UID, code=0, errmsg="Ok")


VECTORS = [
    Vector(
        "V1 ONLINE",
        Header(0x0101, 35, A_SID, 0, 0, 1, 0, 0),
        _online(),
        "00000101 00000023 0000000000007531 0000000000000000 00000000 0000000000000001 "
        "0000000000000000 0000000000000000",
        "08914e10b1ea011a03746f6b220c6265656869766520636861742a05312e302e303001",
        "0000010100000023000000000000753100000000000000000000000000000000000000010000000000000000000000"
        "000000000008914e10b1ea011a03746f6b220c6265656869766520636861742a05312e302e303001",
        87,
    ),
    Vector(
        "V2 ONLINE-ACK",
        Header(0x0102, 38, A_SID, 1, 1, 1, 0, 0),
        pb.mesg_online_ack(
            uid=A_UID,
            sid=A_SID,
            seq=100,
            app="beehive chat",
            version="1.0.0",
            terminal=1,
            code=0,
            errmsg="Ok",
        ),
        "00000102 00000026 0000000000007531 0000000000000001 00000001 0000000000000001 "
        "0000000000000000 0000000000000000",
        "08914e10b1ea011864220c6265656869766520636861742a05312e302e303001380042024f6b",
        "0000010200000026000000000000753100000000000000010000000100000000000000010000000000000000000000"
        "000000000008914e10b1ea011864220c6265656869766520636861742a05312e302e303001380042024f6b",
        90,
    ),
    Vector(
        "V3 CHAT C->S",
        Header(0x0201, 21, A_SID, 0, 0, 101, 0, 0),
        _chat(),
        "00000201 00000015 0000000000007531 0000000000000000 00000000 0000000000000065 "
        "0000000000000000 0000000000000000",
        "08914e10924e18002080e2cfaa062a0568656c6c6f",
        "0000020100000015000000000000753100000000000000000000000000000000000000650000000000000000000000"
        "000000000008914e10924e18002080e2cfaa062a0568656c6c6f",
        73,
    ),
    Vector(
        "V4 CHAT-ACK S->C",
        Header(0x0202, 12, A_SID, 1, 1, 101, 0, 0),
        _chat_ack(),
        "00000202 0000000c 0000000000007531 0000000000000001 00000001 0000000000000065 "
        "0000000000000000 0000000000000000",
        "08914e10924e180022024f6b",
        "000002020000000c000000000000753100000000000000010000000100000000000000650000000000000000000000"
        "000000000008914e10924e180022024f6b",
        64,
    ),
    Vector(
        "V5 CHAT S->C",
        Header(0x0201, 21, B_SID, 2, 1, 1, 0, 0),
        _chat(),
        "00000201 00000015 0000000000007532 0000000000000002 00000001 0000000000000001 "
        "0000000000000000 0000000000000000",
        "08914e10924e18002080e2cfaa062a0568656c6c6f",
        "0000020100000015000000000000753200000000000000020000000100000000000000010000000000000000000000"
        "000000000008914e10924e18002080e2cfaa062a0568656c6c6f",
        73,
    ),
    Vector(
        "V6 CHAT-ACK C->S",
        Header(0x0202, 12, B_SID, 0, 0, 1, 0, 0),
        _chat_ack(),
        "00000202 0000000c 0000000000007532 0000000000000000 00000000 0000000000000001 "
        "0000000000000000 0000000000000000",
        "08914e10924e180022024f6b",
        "000002020000000c000000000000753200000000000000000000000000000000000000010000000000000000000000"
        "000000000008914e10924e180022024f6b",
        64,
    ),
    Vector(
        "V7 PING",
        Header(0x0105, 0, A_SID, 0, 0, 102, 0, 0),
        None,
        "00000105 00000000 0000000000007531 0000000000000000 00000000 0000000000000066 "
        "0000000000000000 0000000000000000",
        "",
        "00000105000000000000000000007531000000000000000000000000000000000000006600000000000000000000000"
        "000000000",
        52,
    ),
    Vector(
        "V8 PONG",
        Header(0x0106, 0, A_SID, 1, 1, 102, 0, 0),
        None,
        "00000106 00000000 0000000000007531 0000000000000001 00000001 0000000000000066 "
        "0000000000000000 0000000000000000",
        "",
        "00000106000000000000000000007531000000000000000100000001000000000000006600000000000000000000000"
        "000000000",
        52,
    ),
    Vector(
        "V9 GROUP-CREAT",
        Header(0x0301, 13, A_SID, 0, 0, 103, 0, 0),
        pb.mesg_group_creat(uid=A_UID, gid=0, name="team", desc=""),
        "00000301 0000000d 0000000000007531 0000000000000000 00000000 0000000000000067 "
        "0000000000000000 0000000000000000",
        "08914e10001a047465616d2200",
        "000003010000000d000000000000753100000000000000000000000000000000000000670000000000000000000000"
        "000000000008914e10001a047465616d2200",
        65,
    ),
    Vector(
        "V10 GROUP-CREAT-ACK",
        Header(0x0302, 6, A_SID, 1, 1, 103, 0, 0),
        pb.mesg_group_creat_ack(code=0, errmsg="Ok"),
        "00000302 00000006 0000000000007531 0000000000000001 00000001 0000000000000067 "
        "0000000000000000 0000000000000000",
        "080012024f6b",
        "0000030200000006000000000000753100000000000000010000000100000000000000670000000000000000000000"
        "0000000000080012024f6b",
        58,
    ),
    Vector(
        "V11 GROUP-JOIN-NTF",
        Header(0x0350, 7, A_SID, 1, 1, 103, 0, 0),
        pb.mesg_group_join_ntf(uid=A_UID, gid=20001),
        "00000350 00000007 0000000000007531 0000000000000001 00000001 0000000000000067 "
        "0000000000000000 0000000000000000",
        "08914e10a19c01",
        "0000035000000007000000000000753100000000000000010000000100000000000000670000000000000000000000"
        "000000000008914e10a19c01",
        59,
    ),
]
IDS = [v.name for v in VECTORS]
ALL_WIRE = b"".join(bytes.fromhex(v.frame_hex) for v in VECTORS)


def _frame_of(v: Vector) -> Frame:
    return Frame(v.header, bytes.fromhex(v.body_hex))


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_sizes_are_consistent(v: Vector) -> None:
    # guards the transcription of the vectors themselves
    assert len(bytes.fromhex(v.frame_hex)) == v.size
    assert bytes.fromhex(v.header_hex.replace(" ", "")) + bytes.fromhex(v.body_hex) == bytes.fromhex(
        v.frame_hex
    )


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_header_bytes(v: Vector) -> None:
    h = v.header
    packed = HEADER.pack(h.type, h.length, h.sid, h.cid, h.nid, h.seq, h.dsid, h.dseq)
    assert packed.hex() == v.header_hex.replace(" ", "")
    # the printed grouping is the field layout of §2.1
    widths = [len(part) // 2 for part in v.header_hex.split()]
    assert widths == [4, 4, 8, 8, 4, 8, 8, 8]


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_body_encode(v: Vector) -> None:
    if v.body is None:
        assert v.body_hex == ""
        return
    assert encode_body(v.body).hex() == v.body_hex


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_frame_encode(v: Vector) -> None:
    body = b"" if v.body is None else encode_body(v.body)
    # length is filled from the body, whatever the header says
    wrong_length = replace(v.header, length=9999)
    assert encode_frame(v.header, body).hex() == v.frame_hex
    assert encode_frame(wrong_length, body).hex() == v.frame_hex


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_decode_tcp(v: Vector) -> None:
    frames = Decoder().feed(bytes.fromhex(v.frame_hex))
    assert frames == [_frame_of(v)]


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_vector_decode_websocket(v: Vector) -> None:
    assert Decoder().decode_message(bytes.fromhex(v.frame_hex)) == _frame_of(v)


@pytest.mark.parametrize("v", [v for v in VECTORS if v.body is not None], ids=lambda v: v.name)
def test_vector_body_decode(v: Vector) -> None:
    assert v.body is not None
    msg = decode_body(v.header.type, bytes.fromhex(v.body_hex))
    assert type(msg) is BODY_TYPES[v.header.type]
    assert msg == v.body
    assert encode_body(msg).hex() == v.body_hex


def test_vector_field_readings() -> None:
    """The field-by-field readings printed under §7."""
    online = decode_body(Cmd.ONLINE, bytes.fromhex(VECTORS[0].body_hex))
    assert isinstance(online, pb.mesg_online)
    assert (online.uid, online.sid, online.token, online.app, online.version, online.terminal) == (
        10001,
        30001,
        "tok",
        "beehive chat",
        "1.0.0",
        1,
    )
    ack = decode_body(Cmd.ONLINE_ACK, bytes.fromhex(VECTORS[1].body_hex))
    assert isinstance(ack, pb.mesg_online_ack)
    assert (ack.seq, ack.code, ack.errmsg) == (100, 0, "Ok")
    chat = decode_body(Cmd.CHAT, bytes.fromhex(VECTORS[2].body_hex))
    assert isinstance(chat, pb.mesg_chat)
    assert (chat.suid, chat.duid, chat.level, chat.time, chat.text) == (10001, 10002, 0, T, "hello")
    assert not chat.HasField("data")
    ntf = decode_body(Cmd.GROUP_JOIN_NTF, bytes.fromhex(VECTORS[10].body_hex))
    assert isinstance(ntf, pb.mesg_group_join_ntf)
    assert (ntf.uid, ntf.gid) == (10001, 20001)


def test_header_fields_in_wire_order() -> None:
    """The decoder's fast constructors rely on this order (§2.1)."""
    assert [f.name for f in fields(Header)] == ["type", "length", "sid", "cid", "nid", "seq", "dsid", "dseq"]
    assert [f.name for f in fields(Frame)] == ["header", "body"]


def test_decoded_frames_are_ordinary_frozen_values() -> None:
    v = VECTORS[2]
    (frame,) = Decoder().feed(bytes.fromhex(v.frame_hex))
    ws = Decoder().decode_message(bytes.fromhex(v.frame_hex))
    for f in (frame, ws):
        assert type(f) is Frame and type(f.header) is Header
        assert f == _frame_of(v) and hash(f) == hash(_frame_of(v))
        assert repr(f.header) == repr(v.header)
        with pytest.raises(FrozenInstanceError):
            f.header.seq = 1  # type: ignore[misc]
        with pytest.raises(FrozenInstanceError):
            f.body = b""  # type: ignore[misc]


def test_reply_header_builds_v8_from_v7() -> None:
    ping = VECTORS[6].header
    pong = ping.reply(Cmd.PONG, cid=1, nid=1)
    assert encode_frame(pong).hex() == VECTORS[7].frame_hex
    # V4 is V3's reply; V10 is V9's
    assert VECTORS[2].header.reply(Cmd.CHAT_ACK, cid=1, nid=1) == Header(0x0202, 0, A_SID, 1, 1, 101)
    v10 = VECTORS[9]
    reply = VECTORS[8].header.reply(Cmd.GROUP_CREAT_ACK, cid=1, nid=1)
    assert encode_frame(reply, bytes.fromhex(v10.body_hex)).hex() == v10.frame_hex


def test_reply_header_zeroes_reserved_fields() -> None:
    req = Header(Cmd.SYNC, 2, A_SID, 77, 88, 5, 123, 456)
    assert req.reply(Cmd.SYNC_ACK, cid=3, nid=4) == Header(Cmd.SYNC_ACK, 0, A_SID, 3, 4, 5, 0, 0)


# --------------------------------------------------------------------------------------------------
# Incremental TCP framing (§2.6)


def test_all_vectors_in_one_feed() -> None:
    assert Decoder().feed(ALL_WIRE) == [_frame_of(v) for v in VECTORS]


def test_byte_at_a_time() -> None:
    d = Decoder()
    out: list[Frame] = []
    for i in range(len(ALL_WIRE)):
        got = d.feed(ALL_WIRE[i : i + 1])
        assert len(got) <= 1
        out += got
    assert out == [_frame_of(v) for v in VECTORS]
    assert d.buffered == 0


def test_largest_frame_byte_at_a_time_is_linear() -> None:
    """65536 one-byte feeds: each must be O(1) (no re-parse of the header, no rescan of the body)."""
    body = bytes(range(256)) * 255 + bytes(range(204))
    wire = encode_frame(Header(Cmd.P2P, sid=A_SID, seq=1), body)
    assert len(wire) == DEFAULT_MAX_FRAME
    d = Decoder()
    got: list[Frame] = []
    start = time.perf_counter()
    for i in range(len(wire)):
        got += d.feed(wire[i : i + 1])
    assert time.perf_counter() - start < 5.0
    assert got == [Frame(Header(Cmd.P2P, len(body), A_SID, 0, 0, 1), body)]


def test_every_two_way_split() -> None:
    expected = [_frame_of(v) for v in VECTORS[:4]]
    wire = ALL_WIRE[: sum(v.size for v in VECTORS[:4])]
    for cut in range(len(wire) + 1):
        d = Decoder()
        assert d.feed(wire[:cut]) + d.feed(wire[cut:]) == expected, cut


def test_empty_feed_and_partial_state() -> None:
    d = Decoder()
    assert d.feed(b"") == []
    wire = bytes.fromhex(VECTORS[0].frame_hex)
    assert d.feed(wire[:60]) == []
    assert d.buffered == 60
    assert d.feed(b"") == []
    assert d.feed(wire[60:] + wire[:10]) == [_frame_of(VECTORS[0])]
    assert d.buffered == 10


def test_feed_accepts_bytearray_and_memoryview() -> None:
    d = Decoder()
    wire = bytes.fromhex(VECTORS[2].frame_hex)
    assert d.feed(bytearray(wire[:30])) + d.feed(memoryview(wire)[30:]) == [_frame_of(VECTORS[2])]


def test_frame_bodies_do_not_alias_the_buffer() -> None:
    d = Decoder()
    wire = bytes.fromhex(VECTORS[2].frame_hex)
    (frame,) = d.feed(wire + wire[:30])
    d.feed(b"\xff" * 20)
    assert type(frame.body) is bytes
    assert frame.body == bytes.fromhex(VECTORS[2].body_hex)


def test_opaque_bodies_pass_through() -> None:
    payload = bytes(range(256)) * 3
    for cmd in (Cmd.BC, Cmd.P2P):
        wire = encode_frame(Header(cmd, sid=A_SID, cid=1, nid=1, seq=42), payload)
        assert Decoder().feed(wire) == [Frame(Header(cmd, len(payload), A_SID, 1, 1, 42), payload)]
        assert Decoder().decode_message(wire).body == payload


def test_unknown_and_server_only_types_still_decode() -> None:
    """They are well-formed frames: §2.8 answers them with ERROR and keeps the connection."""
    wire = encode_frame(Header(0x0999, sid=A_SID, seq=5)) + encode_frame(Header(Cmd.PONG, sid=A_SID, seq=6))
    frames = Decoder().feed(wire)
    assert [f.header.type for f in frames] == [0x0999, Cmd.PONG]


def test_max_values_round_trip() -> None:
    u32, u64 = 2**32 - 1, 2**64 - 1
    h = Header(u32, 0, u64, u64, u32, u64, u64, u64)
    assert Decoder().feed(encode_frame(h, b"x")) == [Frame(replace(h, length=1), b"x")]


# --------------------------------------------------------------------------------------------------
# Size limits (§2.5) and bad headers (§2.8)


def _raw_header(cmd: int, length: int, sid: int = A_SID, seq: int = 1) -> bytes:
    return HEADER.pack(cmd, length, sid, 0, 0, seq, 0, 0)


def test_largest_body_is_accepted() -> None:
    body = b"\0" * (DEFAULT_MAX_FRAME - HEADER_SIZE)
    wire = encode_frame(Header(Cmd.BC, sid=A_SID, seq=1), body)
    assert len(wire) == DEFAULT_MAX_FRAME
    (frame,) = Decoder().feed(wire)
    assert frame.header.length == 65484
    assert Decoder().decode_message(wire).body == body


def test_tcp_oversize_length_closes_as_soon_as_header_arrives() -> None:
    d = Decoder()
    head = _raw_header(Cmd.CHAT, DEFAULT_MAX_FRAME - HEADER_SIZE + 1)
    assert d.feed(head[:51]) == []
    with pytest.raises(BeehiveDecodeError) as ei:
        d.feed(head[51:])
    err = ei.value
    assert err.kind is ErrorKind.CLOSE
    assert err.header is not None and err.header.length == 65485
    assert err.ws_close_code == WS_CLOSE_TOO_BIG
    assert isinstance(err, ProtocolError)


def test_tcp_huge_length_closes() -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        Decoder().feed(_raw_header(Cmd.CHAT, 0xFFFFFFFF))
    assert ei.value.kind is ErrorKind.CLOSE


def test_custom_max_frame() -> None:
    d = Decoder(max_frame=4096)
    assert d.max_frame == 4096
    ok = encode_frame(Header(Cmd.BC, sid=A_SID, seq=1), b"a" * (4096 - 52), max_frame=4096)
    assert len(d.feed(ok)) == 1
    with pytest.raises(BeehiveDecodeError):
        d.feed(_raw_header(Cmd.BC, 4096 - 52 + 1))
    with pytest.raises(ValueError):
        Decoder(max_frame=51)


def test_decoder_is_dead_after_an_error() -> None:
    d = Decoder()
    with pytest.raises(BeehiveDecodeError):
        d.feed(_raw_header(Cmd.CHAT, 10**6))
    with pytest.raises(BeehiveDecodeError) as ei:
        d.feed(bytes.fromhex(VECTORS[6].frame_hex))
    assert ei.value.kind is ErrorKind.CLOSE
    with pytest.raises(BeehiveDecodeError):
        d.decode_message(bytes.fromhex(VECTORS[6].frame_hex))


def test_frames_before_the_bad_header_ride_on_the_error() -> None:
    good = ALL_WIRE[: VECTORS[0].size + VECTORS[1].size]
    with pytest.raises(BeehiveDecodeError) as ei:
        Decoder().feed(good + _raw_header(Cmd.CHAT, 10**6))
    assert list(ei.value.frames) == [_frame_of(VECTORS[0]), _frame_of(VECTORS[1])]


@pytest.mark.parametrize("cmd", [Cmd.PING, Cmd.ONLINE, Cmd.CHAT_ACK, 0x0999])
def test_sid_zero_closes_tcp(cmd: int) -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        Decoder().feed(_raw_header(cmd, 0, sid=0))
    assert ei.value.kind is ErrorKind.CLOSE
    assert ei.value.header == Header(cmd, 0, 0, 0, 0, 1, 0, 0)


def test_sid_zero_closes_websocket() -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        Decoder().decode_message(_raw_header(Cmd.PING, 0, sid=0))
    assert ei.value.kind is ErrorKind.CLOSE
    assert ei.value.ws_close_code == WS_CLOSE_PROTOCOL_ERROR


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (b"", WS_CLOSE_PROTOCOL_ERROR),
        (bytes.fromhex(VECTORS[6].frame_hex)[:51], WS_CLOSE_PROTOCOL_ERROR),
        # length says 35 but the message carries 34 / 36 body bytes
        (bytes.fromhex(VECTORS[0].frame_hex)[:-1], WS_CLOSE_PROTOCOL_ERROR),
        (bytes.fromhex(VECTORS[0].frame_hex) + b"\0", WS_CLOSE_PROTOCOL_ERROR),
        # two frames in one message
        (bytes.fromhex(VECTORS[6].frame_hex) * 2, WS_CLOSE_PROTOCOL_ERROR),
        # over max_frame, whatever the header says
        (_raw_header(Cmd.BC, 65485) + b"\0" * 65485, WS_CLOSE_TOO_BIG),
        (b"\0" * (DEFAULT_MAX_FRAME + 1), WS_CLOSE_TOO_BIG),
    ],
    ids=["empty", "short", "body-short", "body-long", "two-frames", "too-big", "too-big-garbage"],
)
def test_bad_websocket_messages(message: bytes, status: int) -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        Decoder().decode_message(message)
    assert ei.value.kind is ErrorKind.CLOSE
    assert ei.value.ws_close_code == status


def test_websocket_decoder_serves_many_messages() -> None:
    d = Decoder()
    for v in VECTORS:
        assert d.decode_message(bytes.fromhex(v.frame_hex)) == _frame_of(v)


def test_encode_refuses_oversize_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode_frame(Header(Cmd.BC, sid=1), b"\0" * (DEFAULT_MAX_FRAME - HEADER_SIZE + 1))
    with pytest.raises(ValueError):
        encode_frame(Header(Cmd.BC, sid=1), b"\0" * 100, max_frame=140)
    with pytest.raises(ValueError):
        encode_frame(Header(Cmd.PING, sid=2**64))
    with pytest.raises(ValueError):
        encode_frame(Header(-1, sid=1))


# --------------------------------------------------------------------------------------------------
# Who may send what (§2.4 exemption, §2.8 ERROR replies)

SERVER_ONLY = {
    Cmd.PONG,
    Cmd.KICK,
    Cmd.ONLINE_NTF,
    Cmd.OFFLINE_NTF,
    *(c for c in Cmd if c.name.startswith(("GROUP_", "ROOM_")) and c.name.endswith("_NTF")),
    Cmd.ROOM_BC,
    Cmd.ROOM_USR_NUM,
    Cmd.BC,
    Cmd.P2P,
}
INTERNAL = {Cmd.LSND_INFO, Cmd.FRWD_INFO, Cmd.ROOM_LSN_STAT}
REQUESTS = {
    Cmd.ONLINE,
    Cmd.OFFLINE,
    Cmd.PING,
    Cmd.SUB,
    Cmd.UNSUB,
    Cmd.ERROR,
    Cmd.SYNC,
    Cmd.CHAT,
    Cmd.FRIEND_ADD,
    Cmd.FRIEND_DEL,
    Cmd.BLACKLIST_ADD,
    Cmd.BLACKLIST_DEL,
    Cmd.GAG_ADD,
    Cmd.GAG_DEL,
    Cmd.MARK_ADD,
    Cmd.MARK_DEL,
    Cmd.GROUP_CREAT,
    Cmd.GROUP_DISMISS,
    Cmd.GROUP_JOIN,
    Cmd.GROUP_QUIT,
    Cmd.GROUP_INVITE,
    Cmd.GROUP_CHAT,
    Cmd.GROUP_KICK,
    Cmd.GROUP_GAG_ADD,
    Cmd.GROUP_GAG_DEL,
    Cmd.GROUP_BL_ADD,
    Cmd.GROUP_BL_DEL,
    Cmd.GROUP_MGR_ADD,
    Cmd.GROUP_MGR_DEL,
    Cmd.GROUP_USR_LIST,
    Cmd.ROOM_CREAT,
    Cmd.ROOM_DISMISS,
    Cmd.ROOM_JOIN,
    Cmd.ROOM_QUIT,
    Cmd.ROOM_KICK,
    Cmd.ROOM_CHAT,
}


def test_seed_ids_are_complete() -> None:
    # 20 + 18 + 46 + 24 + 4 + 4 seed ids, plus the original's 0x0154
    assert len(list(Cmd)) == 20 + 18 + 46 + 24 + 4 + 4 + 1
    assert Cmd.GROUP_DIMISS is Cmd.GROUP_DISMISS
    assert Cmd["GROUP_DIMISS_ACK"] == 0x0304
    for gap in (0x010F, 0x020F, 0x030F, 0x035A, 0x035F, 0x0368, 0x040F):
        assert cmd_role(gap) is None


def test_roles_partition() -> None:
    assert len(SERVER_ONLY) == 20
    for c in Cmd:
        role = CMD_ROLES[c]
        if c.name.endswith("_ACK") or c is Cmd.LEGACY_OFFLINE_NTF_ACK:
            assert role is CmdRole.CLIENT_ACK, c
        elif c in SERVER_ONLY:
            assert role is CmdRole.SERVER_ONLY, c
        elif c in INTERNAL:
            assert role is CmdRole.INTERNAL, c
        else:
            assert c in REQUESTS, c
            assert role is CmdRole.REQUEST, c
    assert {c for c in Cmd if CMD_ROLES[c] is CmdRole.REQUEST} == REQUESTS


@pytest.mark.parametrize("cmd", sorted(REQUESTS))
def test_requests_pass(cmd: int) -> None:
    assert check_client_command(cmd) is CmdRole.REQUEST


@pytest.mark.parametrize(
    "cmd",
    [Cmd.CHAT_ACK, Cmd.KICK_ACK, Cmd.ERROR_ACK, Cmd.ROOM_BC_ACK, Cmd.P2P_ACK, Cmd.BC_ACK, 0x0154, 0x0367],
)
def test_client_acks_pass(cmd: int) -> None:
    assert check_client_command(cmd) is CmdRole.CLIENT_ACK


@pytest.mark.parametrize(
    ("cmd", "code", "errmsg"),
    [
        *[(c, ErrCode.ILLEGAL_REQUEST, "Illegal request!") for c in sorted(SERVER_ONLY)],
        *[(c, ErrCode.PERMISSION_DENIED, "Permission denied!") for c in sorted(INTERNAL)],
        *[(c, ErrCode.API_NOT_FOUND, "Unknown command!") for c in (0, 0x010F, 0x0700, 0xFFFFFFFF)],
    ],
)
def test_refused_commands_get_error_reply(cmd: int, code: int, errmsg: str) -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        check_client_command(cmd)
    err = ei.value
    assert err.kind is ErrorKind.ERROR_REPLY
    assert (err.code, err.errmsg) == (code, errmsg)


# --------------------------------------------------------------------------------------------------
# Bodies (§3)


def test_every_message_has_a_command() -> None:
    names = {cls.DESCRIPTOR.name for cls in BODY_TYPES.values()}
    assert names == set(pb.DESCRIPTOR.message_types_by_name)
    assert len(BODY_TYPES) == 88
    # request + 1 = its ACK wherever both carry a body
    assert BODY_TYPES[Cmd.ROOM_JOIN_ACK] is pb.mesg_room_join_ack
    assert BODY_TYPES[Cmd.GROUP_DISMISS] is pb.mesg_group_dismiss
    for cmd in (Cmd.PING, Cmd.PONG, Cmd.OFFLINE, Cmd.BC, Cmd.P2P, Cmd.KICK_ACK, Cmd.ERROR_ACK):
        assert cmd not in BODY_TYPES


def _schema(cls: type[Message]) -> list[tuple[str, int, str, bool]]:
    kinds = {4: "uint64", 13: "uint32", 9: "string", 12: "bytes"}
    return [(f.name, f.number, kinds[f.type], f.is_required) for f in cls.DESCRIPTOR.fields]


def test_schema_spot_checks() -> None:
    """Messages whose numbering the original's documentation got wrong (§8) follow its code (§3)."""
    r, o = True, False
    assert _schema(pb.mesg_room_chat_ack) == [
        ("uid", 1, "uint64", r),
        ("rid", 2, "uint64", r),
        ("gid", 3, "uint32", r),
        ("code", 4, "uint32", r),
        ("errmsg", 5, "string", r),
    ]
    assert _schema(pb.mesg_room_bc) == [
        ("rid", 1, "uint64", r),
        ("msgid", 2, "uint64", r),
        ("level", 3, "uint32", r),
        ("time", 4, "uint64", r),
        ("expire", 5, "uint32", r),
        ("data", 6, "bytes", r),
    ]
    assert _schema(pb.mesg_lsnd_info) == [
        ("type", 1, "uint32", r),
        ("nid", 2, "uint32", r),
        ("opid", 3, "uint32", r),
        ("nation", 4, "string", r),
        ("ip", 5, "string", r),
        ("port", 6, "uint32", r),
        ("connections", 7, "uint32", r),
    ]
    assert _schema(pb.mesg_group_chat_ack) == [("code", 1, "uint32", r), ("errmsg", 2, "string", r)]
    assert _schema(pb.mesg_room_kick) == [("uid", 1, "uint64", r), ("rid", 2, "uint64", r)]
    assert _schema(pb.mesg_online)[5] == ("terminal", 6, "uint32", o)
    assert _schema(pb.mesg_sub) == [("cmd", 1, "uint32", o)]
    assert _schema(pb.mesg_mark_add)[2] == ("mark", 3, "uint64", r)
    assert _schema(pb.mesg_room_join_ack)[2] == ("gid", 3, "uint32", r)
    assert _schema(pb.mesg_offline_ntf) == [("uid", 1, "uint64", r), ("time", 2, "uint64", o)]


def test_body_class_names_follow_command_names() -> None:
    for cmd, cls in BODY_TYPES.items():
        assert cls.DESCRIPTOR.name == "mesg_" + Cmd(cmd).name.lower(), hex(cmd)


@pytest.mark.parametrize(
    ("cmd", "body"),
    [
        (Cmd.CHAT, bytes.fromhex("08914e")),  # suid only
        (Cmd.CHAT, b""),  # nothing at all
        (Cmd.ONLINE_ACK, bytes.fromhex("08914e10b1ea01")),
        (Cmd.UNSUB, b""),
        (Cmd.ROOM_BC, bytes.fromhex("08011002180020002800")),  # no data
    ],
)
def test_missing_required_field_is_bad_body(cmd: int, body: bytes) -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        decode_body(cmd, body)
    err = ei.value
    assert err.kind is ErrorKind.BAD_BODY
    assert (err.code, err.errmsg) == (ErrCode.BODY_INVALID, "Body is invalid!")


def test_optional_only_body_may_be_empty() -> None:
    sub = decode_body(Cmd.SUB, b"")
    assert isinstance(sub, pb.mesg_sub)
    assert not sub.HasField("cmd")


@pytest.mark.parametrize(
    "body",
    [b"\xff", b"\x08", b"\x0a\x05ab", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x07"],
)
def test_garbage_body_is_bad_body(body: bytes) -> None:
    with pytest.raises(BeehiveDecodeError) as ei:
        decode_body(Cmd.CHAT, body)
    assert ei.value.kind is ErrorKind.BAD_BODY


def test_invalid_utf8_string_is_bad_body() -> None:
    body = bytes.fromhex("08914e10924e18002080e2cfaa06") + b"\x2a\x02\xff\xfe"
    with pytest.raises(BeehiveDecodeError) as ei:
        decode_body(Cmd.CHAT, body)
    assert ei.value.kind is ErrorKind.BAD_BODY


def test_bytes_field_may_hold_anything() -> None:
    msg = pb.mesg_chat(suid=1, duid=2, level=0, time=0, text="", data=b"\xff\xfe\x00")
    out = decode_body(Cmd.CHAT, encode_body(msg))
    assert isinstance(out, pb.mesg_chat)
    assert out.data == b"\xff\xfe\x00"


def test_unknown_fields_are_skipped_and_dropped() -> None:
    body = bytes.fromhex(VECTORS[2].body_hex) + bytes.fromhex("f80101") + bytes.fromhex("8a0203616263")
    msg = decode_body(Cmd.CHAT, body)
    assert encode_body(msg).hex() == VECTORS[2].body_hex


def test_command_without_protobuf_body() -> None:
    for cmd in (Cmd.PING, Cmd.BC, 0x0999):
        with pytest.raises(BeehiveDecodeError) as ei:
            decode_body(cmd, b"")
        assert ei.value.kind is ErrorKind.BAD_BODY


def test_required_zero_values_are_written() -> None:
    assert encode_body(pb.mesg_error(code=0, errmsg="")).hex() == "08001200"
    # optional fields only when set
    assert encode_body(pb.mesg_online_ntf(uid=1)).hex() == "0801"
    assert encode_body(pb.mesg_online_ntf(uid=1, status=1, terminal=0)).hex() == "080110011800"


def test_encode_body_refuses_missing_required() -> None:
    with pytest.raises(EncodeError):
        encode_body(pb.mesg_chat(suid=1))
