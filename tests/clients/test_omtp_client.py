"""The OMTP test client reproduces every golden vector of omtp.md §3.10 (no server needed)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import pytest

from tests.clients.omtp import (
    ACK,
    CommonErrorCode,
    GroupChatCreateReq,
    GroupChatInfo,
    GroupChatJoinQuitReq,
    GroupChatQuitReqSeed,
    GroupChatSyncResp,
    HistoryMsgPullReq,
    HotSessionItem,
    HotSessionReq,
    HotSessionResp,
    KickOutReq,
    LoginReq,
    LoginResp,
    MsgAck,
    MsgControl,
    MsgReaded,
    MsgReq,
    OmtpClient,
    OmtpProtocolError,
    OtimHeader,
    OtimPack,
    PushInfo,
    SyncDataReq,
    TarsStruct,
    UserAttribute,
    UserInfo,
    decode_frame,
    encode_frame,
    single_session_id,
    typed,
)
from tests.clients.tars_mini import (
    TarsDecodeError,
    TarsMap,
    TarsWriter,
    decode_struct,
    decode_value,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# ============================================================================================
# Group A — TarsCpp vectors
# ============================================================================================

SCALARS: list[tuple[str, Callable[[TarsWriter], object], str, int, object]] = [
    ("byte -1 @2", lambda w: w.write_int(2, -1), "20ff", 2, -1),
    ("short 127", lambda w: w.write_int(0, 127), "007f", 0, 127),
    ("short 128", lambda w: w.write_int(0, 128), "010080", 0, 128),
    ("short -129", lambda w: w.write_int(0, -129), "01ff7f", 0, -129),
    ("int 32767", lambda w: w.write_int(0, 32767), "017fff", 0, 32767),
    ("int 32768", lambda w: w.write_int(0, 32768), "0200008000", 0, 32768),
    ("int -32769", lambda w: w.write_int(0, -32769), "02ffff7fff", 0, -32769),
    ("long 2^31", lambda w: w.write_int(0, 2147483648), "030000000080000000", 0, 2147483648),
    ("long -1", lambda w: w.write_int(0, -1), "00ff", 0, -1),
    ("unsigned byte 200", lambda w: w.write_int(0, 200), "0100c8", 0, 200),
    ("unsigned short 40000", lambda w: w.write_int(0, 40000), "0200009c40", 0, 40000),
    ("unsigned int 3e9", lambda w: w.write_int(0, 3000000000), "0300000000b2d05e00", 0, 3000000000),
    ("float 1.5", lambda w: w.write_float(0, 1.5), "043fc00000", 0, 1.5),
    ("float 0.0", lambda w: w.write_float(0, 0.0), "0400000000", 0, 0.0),
    ("double 1.5 @3", lambda w: w.write_double(3, 1.5), "353ff8000000000000", 3, 1.5),
    ('string "" @15', lambda w: w.write_string(15, ""), "f60f00", 15, ""),
    ('string "ab" @200', lambda w: w.write_string(200, "ab"), "f6c8026162", 200, "ab"),
    (
        "map<string,int> @4",
        lambda w: w.write_map(4, {"b": 0, "a": 1}, TarsWriter.write_string, TarsWriter.write_int),
        "48000206016110010601621c",
        4,
        TarsMap({"a": 1, "b": 0}),
    ),
    (
        "vector<string> @5",
        lambda w: w.write_string_list(5, ["x", ""]),
        "5900020601780600",
        5,
        ["x", ""],
    ),
    (
        "vector<long> @6",
        lambda w: w.write_int_list(6, [1, 70000]),
        "69000200010200011170",
        6,
        [1, 70000],
    ),
    ("vector<byte> @7", lambda w: w.write_bytes(7, b"\x7f\x7f\x7f"), "7d0000037f7f7f", 7, b"\x7f\x7f\x7f"),
]


@pytest.mark.parametrize(
    ("write", "hexstr", "tag", "value"),
    [s[1:] for s in SCALARS],
    ids=[s[0] for s in SCALARS],
)
def test_group_a_scalars(write: Callable[[TarsWriter], object], hexstr: str, tag: int, value: object) -> None:
    w = TarsWriter()
    write(w)
    assert w.to_bytes().hex() == hexstr
    got_tag, got = decode_value(h(hexstr))
    assert got_tag == tag
    assert got == value
    assert type(got) is type(value)


def test_group_a_bools() -> None:
    w = TarsWriter().write_bool(0, True).write_bool(1, False)
    assert w.to_bytes().hex() == "00011c"
    assert decode_struct(h("00011c")) == {0: 1, 1: 0}


def test_group_a_header_bare() -> None:
    header = OtimHeader(type=40000, version=-1, flags=1 << 32, pack_id="x" * 300)
    expected = h("019c40 10ff 230000000100000000 370000012c") + b"x" * 300
    assert header.encode() == expected
    assert OtimHeader.decode(expected) == OtimHeader(-25536, -1, 1 << 32, "x" * 300)


def test_group_a_header_decode_zero() -> None:
    assert OtimHeader.decode(h("0c1c2c360178")) == OtimHeader(0, 0, 0, "x")


LOGIN_REQ_A = LoginReq(
    client_id="100086", user_name="u", password="pw", device_type=1, device_id="d1", version="1.0"
)
LOGIN_RESP_A = LoginResp(CommonErrorCode(0, ""), client_id="100086")
MSG_A = MsgReq(session_id="SC_1_2", from_="1", to="2", content_type=1, content="hi")
MSG_A_STORED = MsgReq(
    session_id="SC_1_2",
    seq_id=1700000000000000,
    timestamp=1700000000000,
    from_="1",
    to="2",
    content_type=1,
    content="hi",
)

STRUCTS_A: list[tuple[str, TarsStruct, str]] = [
    ("LoginReq", LOGIN_REQ_A, "0606313030303836160175260270773001560264316603312e30"),
    ("LoginResp", LOGIN_RESP_A, "0a0c16000b1606313030303836"),
    ("MsgReq client", MSG_A, "060653435f315f323601314601325a060016000b600176026869"),
    (
        "MsgReq stored",
        MSG_A_STORED,
        "060653435f315f321300060a24181e4000230000018bcfe568003601314601325a060016000b600176026869",
    ),
    (
        "MsgAck",
        MsgAck(CommonErrorCode(0, ""), "SC_1_2", 1700000000000000, 1700000000000),
        "0a0c16000b160653435f315f322300060a24181e4000330000018bcfe56800",
    ),
    ("HotSessionReq", HotSessionReq(0), "0c"),
    ("HistoryMsgPullReq", HistoryMsgPullReq("SC_1_2", 0, 200), "060653435f315f321c2100c8"),
    (
        "HotSessionResp",
        HotSessionResp(
            CommonErrorCode(0, ""),
            5,
            [HotSessionItem("s", 300, 2, [OtimPack(OtimHeader(10, 1, 0, "p1"), b"")])],
        ),
        "0a0c16000b10052900010a06017311012c20023900010a0a000a10012c360270310b1d000c0b0b",
    ),
    (
        "GroupChatSyncResp",
        GroupChatSyncResp(CommonErrorCode(0, ""), 0, [], ["GC_1"]),
        "0a0c16000b1c290c390001060447435f31",
    ),
    ("SyncDataReq", SyncDataReq(2, "GC_1"), "0002160447435f31"),
]


@pytest.mark.parametrize(("obj", "hexstr"), [s[1:] for s in STRUCTS_A], ids=[s[0] for s in STRUCTS_A])
def test_group_a_structs(obj: TarsStruct, hexstr: str) -> None:
    assert obj.encode().hex() == hexstr
    assert type(obj).decode(h(hexstr)) == obj
    assert typed(type(obj), h(hexstr)) == obj


FRAMES_A: list[tuple[str, OtimHeader, bytes, str]] = [
    ("PING", OtimHeader(10, 1, 0, "p1"), b"", "00000012 0a000a10012c360270310b1d000c"),
    (
        "LOGIN request",
        OtimHeader(11, 1, 0, "abc"),
        LOGIN_REQ_A.encode(),
        "0000002e 0a000b10012c36036162630b1d00001a0606313030303836160175260270773001560264316603312e30",
    ),
    (
        "LOGIN ack",
        OtimHeader(11, 1, ACK, "abc"),
        LOGIN_RESP_A.encode(),
        "00000022 0a000b1001200136036162630b1d00000d0a0c16000b1606313030303836",
    ),
]


@pytest.mark.parametrize(
    ("header", "payload", "hexstr"), [s[1:] for s in FRAMES_A], ids=[s[0] for s in FRAMES_A]
)
def test_group_a_frames(header: OtimHeader, payload: bytes, hexstr: str) -> None:
    assert encode_frame(header, payload) == h(hexstr)
    assert decode_frame(h(hexstr)) == (header, payload)


def test_group_a_login_frames_payloads_decode() -> None:
    _, payload = decode_frame(h(FRAMES_A[1][3]))
    assert LoginReq.decode(payload) == LOGIN_REQ_A
    header, payload = decode_frame(h(FRAMES_A[2][3]))
    assert header.is_ack
    assert LoginResp.decode(payload) == LOGIN_RESP_A


# ============================================================================================
# Group B — polyim frames
# ============================================================================================

ALICE, BOB = "10001", "10002"
SID = "LP_G1_10001_10002"
UUID = "3f2b8c1e-9d4a-4e7b-a1c2-5d6e7f809a1b"

B1_HEX = "060531303030311605616c69636526067365637265743004560470632d316605312e302e30"
B1 = LoginReq(
    client_id=ALICE, user_name="alice", password="secret", device_type=4, device_id="pc-1", version="1.0.0"
)
B6_MSG = MsgReq(
    session_id=SID, from_=ALICE, to=BOB, push_info=PushInfo("", ""), content_type=1, content="hello"
)
B8_MSG = MsgReq(
    session_id=SID, seq_id=1, timestamp=1700000000123, from_=ALICE, to=BOB, content_type=1, content="hello"
)
B8_BODY = (
    "0a000e10012c36026d310b1d00003b06114c505f47315f31303030315f31303030321001230000018bcfe5687b"
    "36053130303031460531303030325a060016000b6001760568656c6c6f"
)
B9_MSG = MsgReq(session_id="GC_7", from_=ALICE, to="GC_7", content_type=1, content="hi all")

# (name, header, payload struct or None for empty payload, full frame hex)
FRAMES_B: list[tuple[str, OtimHeader, TarsStruct | None, str]] = [
    ("B2 login request", OtimHeader(11, 1, 0, "1"), B1, "00000037 0a000b10012c3601310b1d000025" + B1_HEX),
    (
        "B3 login ack ok",
        OtimHeader(11, 1, ACK, "1"),
        LoginResp(CommonErrorCode(0, ""), ALICE),
        "0000001f0a000b100120013601310b1d00000c0a0c16000b16053130303031",
    ),
    (
        "B4 login ack auth failed",
        OtimHeader(11, 1, ACK, "1"),
        LoginResp(CommonErrorCode(21, "auth failed"), ALICE),
        "0000002b0a000b100120013601310b1d0000180a0015160b61757468206661696c65640b16053130303031",
    ),
    (
        "B5 login ack bad identity",
        OtimHeader(11, 1, ACK, "1"),
        LoginResp(CommonErrorCode(20, "bad client identity")),
        "0000002c0a000b100120013601310b1d0000190a0014161362616420636c69656e74206964656e746974790b",
    ),
    (
        "B6 single chat request",
        OtimHeader(14, 1, 0, "m1"),
        B6_MSG,
        "000000430a000e10012c36026d310b1d00003006114c505f47315f31303030315f3130303032360531303030"
        "31460531303030325a060016000b6001760568656c6c6f",
    ),
    (
        "B7 single chat ack",
        OtimHeader(14, 1, ACK, "m1"),
        MsgAck(CommonErrorCode(0, ""), SID, 1, 1700000000123),
        "000000370a000e1001200136026d310b1d0000230a0c16000b16114c505f47315f31303030315f3130303032"
        "2001330000018bcfe5687b",
    ),
    ("B8 single chat push", OtimHeader(14, 1, 0, "m1"), B8_MSG, "0000004e" + B8_BODY),
    (
        "B9 group request",
        OtimHeader(15, 1, 0, "g1"),
        B9_MSG,
        "000000360a000f10012c360267310b1d000023060447435f3736053130303031460447435f375a060016000b"
        "60017606686920616c6c",
    ),
    (
        "B10 group ack",
        OtimHeader(15, 1, ACK, "g1"),
        MsgAck(CommonErrorCode(0, ""), "GC_7", 42, 1700000000456),
        "0000002a0a000f10012001360267310b1d0000160a0c16000b160447435f37202a330000018bcfe569c8",
    ),
    (
        "B12 revoke request",
        OtimHeader(17, 1, 0, "c1"),
        MsgControl(1, SID, "m1", 1),
        "0000002e0a001110012c360263310b1d00001b000116114c505f47315f31303030315f313030303226026d313001",
    ),
    (
        "B13 revoke ack",
        OtimHeader(17, 1, ACK, "c1"),
        CommonErrorCode(0, ""),
        "000000170a001110012001360263310b1d0000030c1600",
    ),
    ("B14 ping ack", OtimHeader(10, 1, ACK, "p1"), None, "000000130a000a10012001360270310b1d000c"),
    ("B15 logout request", OtimHeader(12, 1, 0, "q1"), None, "000000120a000c10012c360271310b1d000c"),
    (
        "B16 kickout push",
        OtimHeader(13, 1, 0, UUID),
        None,
        "000000340a000d10012c362433663262386331652d396434612d346537622d613163322d35643665376638"
        "30396131620b1d000c",
    ),
    (
        "B17 sync data push",
        OtimHeader(25, 1, 0, UUID),
        SyncDataReq(2, "GC_7"),
        "0000003d0a001910012c362433663262386331652d396434612d346537622d613163322d35643665376638"
        "30396131620b1d0000080002160447435f37",
    ),
    (
        "B18 hot session request",
        OtimHeader(19, 1, 0, "h1"),
        HotSessionReq(0),
        "000000140a001310012c360268310b1d0000010c",
    ),
]


@pytest.mark.parametrize(("header", "obj", "hexstr"), [s[1:] for s in FRAMES_B], ids=[s[0] for s in FRAMES_B])
def test_group_b_frames(header: OtimHeader, obj: TarsStruct | None, hexstr: str) -> None:
    payload = b"" if obj is None else obj.encode()
    frame = encode_frame(header, payload)
    assert frame.hex() == h(hexstr).hex()
    got_header, got_payload = decode_frame(frame)
    assert got_header == header
    assert got_payload == payload
    if obj is not None:
        assert typed(type(obj), got_payload) == obj


PAYLOADS_B: list[tuple[str, TarsStruct, str]] = [
    ("B1 LoginReq", B1, B1_HEX),
    (
        "B11 MsgAck forged sender",
        MsgAck(CommonErrorCode(23, "from is not you"), SID, 0, 0),
        "0a0017160f66726f6d206973206e6f7420796f750b16114c505f47315f31303030315f31303030322c3c",
    ),
    (
        "B19 HotSessionResp",
        HotSessionResp(
            CommonErrorCode(0, ""),
            1700000000123000,
            [HotSessionItem(SID, 0, 1, [OtimPack(OtimHeader(14, 1, 0, "m1"), B8_MSG.encode())])],
        ),
        "0a0c16000b1300060a24182020782900010a06114c505f47315f31303030315f31303030321c200139000"
        "10a" + B8_BODY + "0b0b",
    ),
    ("B20 MsgReaded", MsgReaded("GC_7", 42), "060447435f37102a"),
    ("B21 KickOutReq", KickOutReq(2, "phone-9"), "0002160770686f6e652d39"),
]


@pytest.mark.parametrize(("obj", "hexstr"), [s[1:] for s in PAYLOADS_B], ids=[s[0] for s in PAYLOADS_B])
def test_group_b_payloads(obj: TarsStruct, hexstr: str) -> None:
    assert obj.encode().hex() == h(hexstr).hex()
    assert typed(type(obj), h(hexstr)) == obj


def test_b19_nested_pack_decodes() -> None:
    resp = HotSessionResp.decode(h(PAYLOADS_B[2][2]))
    item = resp.session(SID)
    assert item is not None
    assert item.unread_count == 1
    (pack,) = item.last_msgs
    assert pack.header == OtimHeader(14, 1, 0, "m1")
    assert pack.msg == B8_MSG
    assert pack.body() == B8_MSG
    # the pack inside the list is byte-identical to the body of frame B8
    assert pack.encode() == h(B8_BODY)


def test_b8_is_b6_plus_server_fields() -> None:
    _, p6 = decode_frame(h(FRAMES_B[4][3]))
    _, p8 = decode_frame(h(FRAMES_B[6][3]))
    m6, m8 = MsgReq.decode(p6), MsgReq.decode(p8)
    assert (m8.seq_id, m8.timestamp) == (1, 1700000000123)
    m6.seq_id, m6.timestamp = m8.seq_id, m8.timestamp
    assert m6 == m8


def test_single_session_id_rule() -> None:
    assert single_session_id(BOB, ALICE) == SID
    assert single_session_id("10001", "9999") == "LP_G1_10001_9999"


# ============================================================================================
# Other encoders of the client (layout by §4, rules by §3.8)
# ============================================================================================


def test_other_encoders() -> None:
    info = GroupChatInfo(name="g", creator_id=ALICE)
    assert info.encode().hex() == "0600" + "160167" + "3605" + ALICE.encode().hex()
    req = GroupChatCreateReq(info, [BOB])
    assert req.encode() == h("0a") + info.encode() + h("0b 190001 0605") + BOB.encode()
    assert GroupChatCreateReq.decode(req.encode()) == req
    assert GroupChatJoinQuitReq("GC_7", []).encode() == h("060447435f37 190c")
    seed = GroupChatQuitReqSeed("GC_7", ALICE, [BOB])
    assert GroupChatQuitReqSeed.decode(seed.encode()) == seed
    assert UserInfo(ALICE, "a").encode() == h("0605") + ALICE.encode() + h("160161")
    assert UserAttribute().encode() == h("0600 1600 2600 3600")
    assert LoginReq().encode() == h("0600 1600 3c")  # deviceType 0 still written
    assert MsgReq(push_info=PushInfo("t", "s", "u")).encode() == h(
        "0600 3600 4600 5a 060174 160173 260175 0b"
    )
    assert HistoryMsgPullReq("", 5, 200).encode() == h("1005 2100c8")  # optional sessionId omitted


# ============================================================================================
# Decoder leniency and strictness
# ============================================================================================


def test_payload_as_list_of_int1_accepted() -> None:
    header = OtimHeader(10, 1, 0, "p1").encode()
    body = h("0a") + header + h("0b") + h("19 0002 0001 00ff")  # LIST of two INT1 elements
    pack = OtimPack.decode(body)
    assert pack.payload == b"\x01\xff"


def test_unknown_tags_skipped_and_seed_variants() -> None:
    # LoginResp with the seed's int code at tag 0 and an unknown tag 9 (struct)
    resp = LoginResp.decode(h("0015 1605") + ALICE.encode() + h("9a 0001 0b"))
    assert resp.error == CommonErrorCode(21, "")
    assert resp.client_id == ALICE
    # MsgReq with the seed's string pushInfo
    msg = MsgReq.decode(h("0600 3600 4600 5602 7878"))
    assert msg.push_info == PushInfo("", "xx")


@pytest.mark.parametrize(
    "bad",
    [
        "06",  # truncated length
        "0605 6162",  # truncated string
        "0e",  # type 14
        "0c0c",  # repeated tag 0
        "0b",  # STRUCT_END in a bare struct
        "0a 0c",  # unterminated nested struct
        "09 0005 00",  # count larger than the bytes left
        "0d 01 03 616263",  # SIMPLE_LIST with a non-INT1 inner head
    ],
)
def test_decoder_rejects(bad: str) -> None:
    with pytest.raises(TarsDecodeError):
        decode_struct(h(bad))


def test_missing_required_field() -> None:
    with pytest.raises(TarsDecodeError):
        MsgAck.decode(h("0a0c16000b"))


def test_typed_rejects_non_canonical() -> None:
    # CommonErrorCode {0, ""} with the code written as INT1 00 instead of ZERO_TAG
    with pytest.raises(OmtpProtocolError):
        typed(CommonErrorCode, h("0000 1600"))
    assert typed(CommonErrorCode, h("0000 1600"), strict=False) == CommonErrorCode(0, "")
    # a string written as STRING4
    with pytest.raises(OmtpProtocolError):
        typed(CommonErrorCode, h("0c 17 00000000"))


def test_invalid_utf8_rejected() -> None:
    with pytest.raises(TarsDecodeError):
        CommonErrorCode.decode(h("0c 1601ff"))


# ============================================================================================
# OmtpClient against a scripted fake server (local socket, not polyim)
# ============================================================================================


async def _read_frame(reader: asyncio.StreamReader) -> tuple[OtimHeader, bytes]:
    prefix = await reader.readexactly(4)
    (length,) = struct.unpack(">I", prefix)
    return decode_frame(prefix + await reader.readexactly(length - 4))


async def test_client_matches_responses_and_queues_pushes() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header, payload = await _read_frame(reader)
        req = LoginReq.decode(payload)
        assert header.type == 11
        assert req == LoginReq("", "alice", "secret", 4, "", "pc-1", "1.0")
        ack = OtimHeader(11, header.version, header.flags | ACK, header.pack_id)
        writer.write(encode_frame(ack, LoginResp(CommonErrorCode(), ALICE).encode()))
        header, payload = await _read_frame(reader)
        msg = MsgReq.decode(payload)
        assert msg == MsgReq(SID, 0, 0, ALICE, BOB, PushInfo(), 1, "hello")
        # a push arrives between the request and its response
        writer.write(encode_frame(OtimHeader(25, 1, 0, UUID), SyncDataReq(1, BOB).encode()))
        writer.write(encode_frame(OtimHeader(14, 1, 0, "x"), B8_MSG.encode()))
        resp = MsgAck(CommonErrorCode(), msg.session_id, 1, 1700000000123)
        writer.write(encode_frame(OtimHeader(14, 1, ACK, header.pack_id), resp.encode()))
        header, _ = await _read_frame(reader)
        assert header.type == 12
        writer.write(encode_frame(OtimHeader(12, 1, ACK, header.pack_id)))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        c = await OmtpClient.connect("127.0.0.1", port)
        assert await c.login("alice", "secret") == (0, ALICE)
        assert c.uid == ALICE
        ack = await c.send_single(BOB, "hello")
        assert ack == MsgAck(CommonErrorCode(), SID, 1, 1700000000123)
        header, msg = await c.expect_msg()
        assert header.pack_id == "x"
        assert msg == B8_MSG
        assert [h_.type for h_, _ in c.skipped] == [25]
        logout = await c.logout()
        assert logout.is_ack
        assert await c.wait_closed(2.0)
        assert await c.poll_push(0.1) is None
        with pytest.raises(ConnectionError):
            await c.ping()
        assert c.errors == []
        await c.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_client_flags_non_canonical_server_frames() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header, _ = await _read_frame(reader)
        # header.type written as INT2 although 10 fits INT1
        body = h("0a 01000a 1001 2001 36") + bytes([len(header.pack_id)]) + header.pack_id.encode()
        body += h("0b 1d000c")
        writer.write(struct.pack(">I", len(body) + 4) + body)
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        c = await OmtpClient.connect("127.0.0.1", port)
        with pytest.raises(OmtpProtocolError):
            await c.ping()
        assert c.errors
        assert not await c.wait_closed(0.1)
        await c.close()
        assert c.closed
    finally:
        server.close()
        await server.wait_closed()
