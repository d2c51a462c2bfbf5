"""OMTP codec against omtp.md §2–§4: every golden vector of §3.10, framing, payload structs and seed variants."""

from __future__ import annotations

import random
from typing import Any

import pytest

from polyim.protocols.base import ProtocolError
from polyim.protocols.omtp import codec
from polyim.protocols.omtp.codec import (
    FLAG_ACK,
    FLAG_COMPRESS_MASK,
    FLAG_CRYPTO_MASK,
    FLAG_HIGHPRJ,
    MAX_FRAME,
    CommonErrorCode,
    Decoder,
    DeviceType,
    ErrorCode,
    FriendAddReq,
    FriendDelReq,
    FriendInfo,
    FriendSyncReq,
    FriendSyncResp,
    GroupChatCreateReq,
    GroupChatCreateResp,
    GroupChatCreatorUpdateReq,
    GroupChatDismissReq,
    GroupChatInfo,
    GroupChatInfoUpdateReq,
    GroupChatJoinQuitReq,
    GroupChatMemberGetReq,
    GroupChatMemberGetResp,
    GroupChatSyncReq,
    GroupChatSyncResp,
    Header,
    HistoryMsgPullReq,
    HistoryMsgPullResp,
    HotSessionItem,
    HotSessionReq,
    HotSessionResp,
    KickOutAck,
    KickOutReq,
    LoginReq,
    LoginResp,
    MsgAck,
    MsgControl,
    MsgCtlCmd,
    MsgHighPrioritySyncReq,
    MsgHighPrioritySyncResp,
    MsgReaded,
    MsgReq,
    OmtpDecodeError,
    Pack,
    PackType,
    PushInfo,
    SessionAttrSetReq,
    SessionMonitor,
    SyncCmd,
    SyncDataReq,
    UserAttrGetResp,
    UserAttribute,
    UserAttrSetReq,
    UserInfo,
    UserInfoGetReq,
    UserInfoGetResp,
    UserInfoUpdateReq,
    encode_pack,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --------------------------------------------------------------------------------------------------------
# Golden vectors (omtp.md §3.10)

LOGIN_REQ = LoginReq(
    client_id="100086", user_name="u", password="pw", device_type=1, device_id="d1", version="1.0"
)
LOGIN_RESP = LoginResp(error_code=CommonErrorCode(0, ""), client_id="100086")
SID = "LP_G1_10001_10002"
UUID = "3f2b8c1e-9d4a-4e7b-a1c2-5d6e7f809a1b"
B1 = LoginReq(
    client_id="10001",
    user_name="alice",
    password="secret",
    device_type=DeviceType.WINDOWS,
    device_id="pc-1",
    version="1.0.0",
)
B1_HEX = "060531303030311605616c69636526067365637265743004560470632d316605312e302e30"
B6 = MsgReq(
    session_id=SID, from_="10001", to="10002", push_info=PushInfo("", ""), content_type=1, content="hello"
)
B8 = MsgReq(
    session_id=SID,
    seq_id=1,
    timestamp=1700000000123,
    from_="10001",
    to="10002",
    content_type=1,
    content="hello",
)
B8_PACK = Pack(Header(14, 1, 0, "m1"), B8.encode())

# (name, struct value, hex of its bare encoding)
PAYLOAD_VECTORS: list[tuple[str, Any, str]] = [
    ("A LoginReq", LOGIN_REQ, "0606313030303836160175260270773001560264316603312e30"),
    ("A LoginResp", LOGIN_RESP, "0a0c16000b1606313030303836"),
    (
        "A MsgReq as a client sends it",
        MsgReq(session_id="SC_1_2", from_="1", to="2", content_type=1, content="hi"),
        "060653435f315f323601314601325a060016000b600176026869",
    ),
    (
        "A MsgReq after the server set seqId and timestamp",
        MsgReq(
            session_id="SC_1_2",
            seq_id=1700000000000000,
            timestamp=1700000000000,
            from_="1",
            to="2",
            content_type=1,
            content="hi",
        ),
        "060653435f315f321300060a24181e4000230000018bcfe568003601314601325a060016000b600176026869",
    ),
    (
        "A MsgAck",
        MsgAck(CommonErrorCode(0, ""), "SC_1_2", 1700000000000000, 1700000000000),
        "0a0c16000b160653435f315f322300060a24181e4000330000018bcfe56800",
    ),
    ("A HotSessionReq", HotSessionReq(timestamp=0), "0c"),
    (
        "A HistoryMsgPullReq",
        HistoryMsgPullReq(session_id="SC_1_2", seq_id=0, count=200),
        "060653435f315f321c2100c8",
    ),
    (
        "A HotSessionResp",
        HotSessionResp(
            CommonErrorCode(0, ""),
            5,
            (HotSessionItem("s", 300, 2, (Pack(Header(10, 1, 0, "p1"), b""),)),),
        ),
        "0a0c16000b10052900010a06017311012c20023900010a0a000a10012c360270310b1d000c0b0b",
    ),
    (
        "A GroupChatSyncResp",
        GroupChatSyncResp(CommonErrorCode(0, ""), 0, (), ("GC_1",)),
        "0a0c16000b1c290c390001060447435f31",
    ),
    ("A SyncDataReq", SyncDataReq(command=SyncCmd.GROUP, content="GC_1"), "0002160447435f31"),
    (
        "A OTIMHeader",
        Header(type=-25536, version=-1, flags=1 << 32, pack_id="x" * 300),
        "019c40 10ff 230000000100000000 370000012c" + "78" * 300,
    ),
    ("B1", B1, B1_HEX),
    (
        "B11",
        MsgAck(CommonErrorCode(23, "from is not you"), SID, 0, 0),
        "0a0017160f66726f6d206973206e6f7420796f750b16114c505f47315f31303030315f31303030322c3c",
    ),
    (
        "B19",
        HotSessionResp(
            CommonErrorCode(0, ""),
            1700000000123000,
            (HotSessionItem(SID, 0, 1, (B8_PACK,)),),
        ),
        "0a0c16000b1300060a24182020782900010a06114c505f47315f31303030315f31303030321c20013900010a0a000e10012c"
        "36026d310b1d00003b06114c505f47315f31303030315f31303030321001230000018bcfe5687b3605313030303146053130"
        "3030325a060016000b6001760568656c6c6f0b0b",
    ),
    ("B20", MsgReaded(session_id="GC_7", seq_id=42), "060447435f37102a"),
    ("B21", KickOutReq(device_type=DeviceType.ANDROID, device_id="phone-9"), "0002160770686f6e652d39"),
]


@pytest.mark.parametrize(
    ("value", "wire"), [v[1:] for v in PAYLOAD_VECTORS], ids=[v[0] for v in PAYLOAD_VECTORS]
)
def test_payload_vectors(value: Any, wire: str) -> None:
    assert value.encode() == h(wire)
    decoded = type(value).decode(h(wire))
    if isinstance(value, Header):  # flags keep only their low 32 bits on input (§1.4)
        value = Header(value.type, value.version, value.flags & 0xFFFF_FFFF, value.pack_id)
    assert decoded == value


def test_bare_header_with_zero_tags() -> None:
    assert Header.decode(h("0c1c2c360178")) == Header(0, 0, 0, "x")


# (name, pack, hex of the frame; payload struct or None)
FRAME_VECTORS: list[tuple[str, Pack, str, Any]] = [
    ("A PING", Pack(Header(10, 1, 0, "p1"), b""), "00000012 0a000a10012c360270310b1d000c", None),
    (
        "A LOGIN request",
        Pack(Header(11, 1, 0, "abc"), LOGIN_REQ.encode()),
        "0000002e 0a000b10012c36036162630b1d00001a0606313030303836160175260270773001560264316603312e30",
        LOGIN_REQ,
    ),
    (
        "A LOGIN ack",
        Pack(Header(11, 1, FLAG_ACK, "abc"), LOGIN_RESP.encode()),
        "00000022 0a000b1001200136036162630b1d00000d0a0c16000b1606313030303836",
        LOGIN_RESP,
    ),
    ("B2", Pack(Header(11, 1, 0, "1"), B1.encode()), "00000037 0a000b10012c3601310b1d000025" + B1_HEX, B1),
    (
        "B3",
        Pack(Header(11, 1, FLAG_ACK, "1"), LoginResp(CommonErrorCode(0, ""), client_id="10001").encode()),
        "0000001f0a000b100120013601310b1d00000c0a0c16000b16053130303031",
        LoginResp(CommonErrorCode(0, ""), client_id="10001"),
    ),
    (
        "B4",
        Pack(Header(11, 1, FLAG_ACK, "1"), LoginResp(CommonErrorCode(21, "auth failed"), "10001").encode()),
        "0000002b0a000b100120013601310b1d0000180a0015160b61757468206661696c65640b16053130303031",
        LoginResp(CommonErrorCode(21, "auth failed"), "10001"),
    ),
    (
        "B5",
        Pack(Header(11, 1, FLAG_ACK, "1"), LoginResp(CommonErrorCode(20, "bad client identity")).encode()),
        "0000002c0a000b100120013601310b1d0000190a0014161362616420636c69656e74206964656e746974790b",
        LoginResp(CommonErrorCode(20, "bad client identity")),
    ),
    (
        "B6",
        Pack(Header(14, 1, 0, "m1"), B6.encode()),
        "000000430a000e10012c36026d310b1d00003006114c505f47315f31303030315f313030303236053130303031460531303030"
        "325a060016000b6001760568656c6c6f",
        B6,
    ),
    (
        "B7",
        Pack(Header(14, 1, FLAG_ACK, "m1"), MsgAck(CommonErrorCode(0, ""), SID, 1, 1700000000123).encode()),
        "000000370a000e1001200136026d310b1d0000230a0c16000b16114c505f47315f31303030315f31303030322001330000018b"
        "cfe5687b",
        MsgAck(CommonErrorCode(0, ""), SID, 1, 1700000000123),
    ),
    (
        "B8",
        B8_PACK,
        "0000004e0a000e10012c36026d310b1d00003b06114c505f47315f31303030315f31303030321001230000018bcfe5687b3605"
        "3130303031460531303030325a060016000b6001760568656c6c6f",
        B8,
    ),
    (
        "B9",
        Pack(
            Header(15, 1, 0, "g1"),
            MsgReq("GC_7", from_="10001", to="GC_7", content_type=1, content="hi all").encode(),
        ),
        "000000360a000f10012c360267310b1d000023060447435f3736053130303031460447435f375a060016000b60017606686920"
        "616c6c",
        MsgReq("GC_7", from_="10001", to="GC_7", content_type=1, content="hi all"),
    ),
    (
        "B10",
        Pack(
            Header(15, 1, FLAG_ACK, "g1"), MsgAck(CommonErrorCode(0, ""), "GC_7", 42, 1700000000456).encode()
        ),
        "0000002a0a000f10012001360267310b1d0000160a0c16000b160447435f37202a330000018bcfe569c8",
        MsgAck(CommonErrorCode(0, ""), "GC_7", 42, 1700000000456),
    ),
    (
        "B12",
        Pack(Header(17, 1, 0, "c1"), MsgControl(MsgCtlCmd.REVOKE, SID, "m1", 1).encode()),
        "0000002e0a001110012c360263310b1d00001b000116114c505f47315f31303030315f313030303226026d313001",
        MsgControl(MsgCtlCmd.REVOKE, SID, "m1", 1),
    ),
    (
        "B13",
        Pack(Header(17, 1, FLAG_ACK, "c1"), CommonErrorCode(0, "").encode()),
        "000000170a001110012001360263310b1d0000030c1600",
        CommonErrorCode(0, ""),
    ),
    ("B14", Pack(Header(10, 1, FLAG_ACK, "p1")), "000000130a000a10012001360270310b1d000c", None),
    ("B15", Pack(Header(12, 1, 0, "q1")), "000000120a000c10012c360271310b1d000c", None),
    (
        "B16",
        Pack(Header(13, 1, 0, UUID)),
        "000000340a000d10012c362433663262386331652d396434612d346537622d613163322d3564366537663830396131620b1d000c",
        None,
    ),
    (
        "B17",
        Pack(Header(25, 1, 0, UUID), SyncDataReq(SyncCmd.GROUP, "GC_7").encode()),
        "0000003d0a001910012c362433663262386331652d396434612d346537622d613163322d356436653766383039613162"
        "0b1d0000080002160447435f37",
        SyncDataReq(SyncCmd.GROUP, "GC_7"),
    ),
    (
        "B18",
        Pack(Header(19, 1, 0, "h1"), HotSessionReq(0).encode()),
        "000000140a001310012c360268310b1d0000010c",
        HotSessionReq(0),
    ),
]


@pytest.mark.parametrize(
    ("pack", "wire", "payload"), [v[1:] for v in FRAME_VECTORS], ids=[v[0] for v in FRAME_VECTORS]
)
def test_frame_vectors(pack: Pack, wire: str, payload: Any) -> None:
    frame = h(wire)
    assert encode_pack(pack) == frame
    assert pack.encode() == frame[4:]  # the bare OTIMPack is the frame body
    assert Pack.decode(frame[4:]) == pack
    assert Decoder().feed(frame) == [pack]
    if payload is None:
        assert pack.payload == b""
    else:
        assert type(payload).decode(pack.payload) == payload


ALL_FRAMES = b"".join(h(v[2]) for v in FRAME_VECTORS)
ALL_PACKS = [v[1] for v in FRAME_VECTORS]


# --------------------------------------------------------------------------------------------------------
# Decoder: incremental splitting, bounds, dead state


def test_frames_back_to_back_in_one_feed() -> None:
    assert Decoder().feed(ALL_FRAMES) == ALL_PACKS


def test_byte_at_a_time() -> None:
    decoder = Decoder()
    packs = []
    for i in range(len(ALL_FRAMES)):
        packs += decoder.feed(ALL_FRAMES[i : i + 1])
    assert packs == ALL_PACKS


def test_random_splits_across_feeds() -> None:
    rng = random.Random(7)
    for _ in range(50):
        decoder = Decoder()
        packs = []
        pos = 0
        while pos < len(ALL_FRAMES):
            step = rng.randint(0, 90)
            packs += decoder.feed(ALL_FRAMES[pos : pos + step])
            pos += step
        assert packs == ALL_PACKS


def test_bytearray_input() -> None:
    assert Decoder().feed(bytearray(ALL_FRAMES)) == ALL_PACKS


def test_incomplete_frame_waits() -> None:
    frame = h(FRAME_VECTORS[0][2])
    decoder = Decoder()
    assert decoder.feed(frame[:3]) == []
    assert decoder.feed(frame[3:-1]) == []
    assert decoder.feed(frame[-1:] + frame[:6]) == [FRAME_VECTORS[0][1]]
    assert decoder.feed(frame[6:]) == [FRAME_VECTORS[0][1]]


@pytest.mark.parametrize("length", [0, 1, 3, MAX_FRAME + 1, 0xFFFF_FFFF])
def test_bad_lengths(length: int) -> None:
    decoder = Decoder()
    with pytest.raises(OmtpDecodeError, match="frame length"):
        decoder.feed(length.to_bytes(4, "big"))
    with pytest.raises(OmtpDecodeError, match="earlier error"):
        decoder.feed(h(FRAME_VECTORS[0][2]))


def test_bad_length_is_seen_before_the_body_arrives() -> None:
    decoder = Decoder()
    assert decoder.feed(b"\x00\x0a") == []
    with pytest.raises(OmtpDecodeError):
        decoder.feed(b"\x00\x00")


def test_max_frame_is_a_constructor_argument() -> None:
    frame = h(FRAME_VECTORS[0][2])  # 18 bytes
    assert Decoder(max_frame=18).feed(frame) == [FRAME_VECTORS[0][1]]
    with pytest.raises(OmtpDecodeError):
        Decoder(max_frame=17).feed(frame)


def test_largest_frame_is_accepted() -> None:
    header = Header(14, 1, 0, "big")
    # An empty payload's length is 0C; one of 32 768 bytes or more has 02 and four bytes instead.
    size = MAX_FRAME - len(encode_pack(Pack(header, b""))) - 4
    frame = encode_pack(Pack(header, bytes(size)))
    assert len(frame) == MAX_FRAME
    assert Decoder().feed(frame) == [Pack(header, bytes(size))]
    with pytest.raises(OmtpDecodeError):
        Decoder().feed(encode_pack(Pack(header, bytes(size + 1))))


@pytest.mark.parametrize(
    "body",
    [
        "",  # length 4: no body at all
        "0a000a10012c360270310b",  # no payload
        "1d000c",  # no header
        "0a000a10012c360270310b1d000c0b",  # STRUCT_END at the top level
        "0a000a10012c360270310b1d000c1d000c",  # payload twice
        "0a000a10012c360270310b1d0003",  # payload truncated by the frame's end
        "0a020000000a10012c360270310b1d000c",  # type as INT4 in a short
        "0a000a10012c3602ff310b1d000c",  # packId not UTF-8
        "0a000a10012c0b1d000c",  # packId missing
        "0a000a0a10012c360270310b1d000c",  # a stray STRUCT_BEGIN in the header repeats tag 0
        "0a000a10012c360270310b1d010003616263",  # SIMPLE_LIST element type not INT1
        "0a000a10012c360270310b1e",  # type id 14
    ],
)
def test_bad_bodies(body: str) -> None:
    data = h(body)
    frame = (len(data) + 4).to_bytes(4, "big") + data
    decoder = Decoder()
    with pytest.raises(OmtpDecodeError):
        decoder.feed(frame)
    with pytest.raises(OmtpDecodeError):
        decoder.feed(b"")


def test_decode_error_is_a_protocol_error() -> None:
    assert issubclass(OmtpDecodeError, ProtocolError)


def frame_of(body: str) -> bytes:
    data = h(body)
    return (len(data) + 4).to_bytes(4, "big") + data


def test_unknown_tags_in_pack_and_header_are_skipped() -> None:
    body = "0a000a10012c360270314603787878590001060178 0b1d000c 2c 36017a fa10 0001 0b"
    assert Decoder().feed(frame_of(body)) == [Pack(Header(10, 1, 0, "p1"))]


def test_fields_in_any_order() -> None:
    assert Decoder().feed(frame_of("1d000c 0a 36027031 2c 1001 000a 0b")) == [Pack(Header(10, 1, 0, "p1"))]


def test_repeated_tags_are_rejected() -> None:
    with pytest.raises(OmtpDecodeError, match="repeated"):
        Decoder().feed(frame_of("0a000a000a10012c360270310b1d000c"))
    with pytest.raises(OmtpDecodeError, match="repeated"):
        Decoder().feed(frame_of("0a000a10012c360270310b1d000c1d000c"))


def test_payload_as_list_of_bytes() -> None:
    body = "0a000e10012c36026d310b 19 0004 0001 0c 007f 00ff"
    assert Decoder().feed(frame_of(body)) == [Pack(Header(14, 1, 0, "m1"), b"\x01\x00\x7f\xff")]


@pytest.mark.parametrize(
    ("flags_field", "flags"),
    [
        ("2c", 0),
        ("2021", FLAG_ACK | FLAG_HIGHPRJ),
        ("20ff", 0xFFFF_FFFF),  # -1: its low 32 bits
        ("2080", 0xFFFF_FF80),
        ("230000000100000001", FLAG_ACK),  # bits above 31 are dropped
        ("22800001c0", 0x8000_01C0),
        ("210e00", FLAG_CRYPTO_MASK),
        ("2101c0", FLAG_COMPRESS_MASK),
    ],
)
def test_header_flags_keep_their_low_32_bits(flags_field: str, flags: int) -> None:
    frame = frame_of(f"0a000e1001{flags_field}36026d310b1d000c")
    assert Decoder().feed(frame) == [Pack(Header(14, 1, flags, "m1"))]
    assert Pack.decode(frame[4:]).header.flags == flags


@pytest.mark.parametrize(
    "header",
    [
        Header(0, 0, 0, ""),
        Header(-128, 127, 127, "x" * 255),
        Header(32767, -32768, 0xFFFF_FFFF, "é" * 200),
        Header(128, 1, 1 << 31, "p"),
    ],
)
def test_uncommon_header_forms_round_trip(header: Header) -> None:
    for payload in (b"", b"\x01", bytes(127), bytes(128), bytes(40000)):
        pack = Pack(header, payload)
        assert Decoder().feed(encode_pack(pack)) == [pack]


def test_header_values_beyond_short_are_refused_on_encode() -> None:
    with pytest.raises(ValueError):
        encode_pack(Pack(Header(40000, 1, 0, "x")))
    with pytest.raises(ValueError):
        Header(1, 1 << 15, 0, "x").encode()


# --------------------------------------------------------------------------------------------------------
# Payload structs: lenient decoding, seed variants, defaults


def test_msgreq_defaults_make_a_minimal_request() -> None:
    req = MsgReq(session_id="s", from_="1", to="2")
    assert req.push_info == PushInfo()
    assert MsgReq.decode(req.encode()) == req


def test_msgreq_accepts_the_seed_string_push_info() -> None:
    wire = h("0601 73 3601 31 4601 32 5602 6869 6001 7602 6869")
    assert MsgReq.decode(wire) == MsgReq(
        "s", from_="1", to="2", push_info=PushInfo("", "hi"), content_type=1, content="hi"
    )


def test_msgreq_ignores_nothing_it_knows_and_skips_what_it_does_not() -> None:
    req = MsgReq("s", 5, 6, "1", "2", PushInfo("t", "u", "v"), 7, "c", 1)
    assert MsgReq.decode(req.encode() + h("9c a601 7a")) == req


@pytest.mark.parametrize("cls", [LoginResp, MsgAck, HotSessionResp])
def test_seed_int_code_at_tag_0(cls: Any) -> None:
    value = cls(error_code=CommonErrorCode(21, ""))
    wire = value.encode()
    seed_wire = h("0015") + wire[wire.index(0x0B) + 1 :]
    assert cls.decode(seed_wire) == value


def test_nested_error_code_does_not_accept_an_int_elsewhere() -> None:
    with pytest.raises(OmtpDecodeError):
        KickOutAck.decode(h("0015"))


def test_missing_require_fields() -> None:
    with pytest.raises(OmtpDecodeError, match="require"):
        MsgReq.decode(h("0601 73 3601 31"))  # no `to`
    with pytest.raises(OmtpDecodeError, match="require"):
        LoginReq.decode(b"")
    with pytest.raises(OmtpDecodeError, match="require"):
        HistoryMsgPullReq.decode(b"")  # seqId is require, count has a default


def test_explicit_defaults_on_require_fields() -> None:
    assert HistoryMsgPullReq.decode(h("1c")) == HistoryMsgPullReq("", 0, 200)
    assert MsgHighPrioritySyncReq.decode(h("0005")) == MsgHighPrioritySyncReq(5, 200)
    item = HotSessionItem.decode(h("0601 73 1c"))
    assert item.unread_count == 0
    assert item.last_msgs == ()


def test_type_mismatch_in_a_payload() -> None:
    with pytest.raises(OmtpDecodeError, match="cannot be read as int"):
        MsgReq.decode(h("0601 73 3601 31 4601 32 63 0000000000000001"))  # contentType as INT8
    with pytest.raises(OmtpDecodeError, match="cannot be read as long"):
        MsgReaded.decode(h("0601 73 16 00"))


def test_invalid_utf8_in_a_payload() -> None:
    with pytest.raises(OmtpDecodeError, match="UTF-8"):
        MsgReq.decode(h("0601 73 3601 31 4601 32 7602 c328"))
    with pytest.raises(OmtpDecodeError, match="UTF-8"):
        MsgReq.decode(h("0601 73 3601 31 4601 32 5a 0601ff 1600 0b"))  # inside pushInfo


def test_join_quit_original_layout() -> None:
    req = GroupChatJoinQuitReq("GC_7", ("10002", "10003"))
    wire = h("060447435f37 190002 0605 3130303032 0605 3130303033")
    assert req.encode() == wire
    assert GroupChatJoinQuitReq.decode(wire) == req
    assert req.operator_id is None


def test_join_quit_seed_layout() -> None:
    wire = h("060447435f37 1605 3130303031 290001 0605 3130303032")
    req = GroupChatJoinQuitReq.decode(wire)
    assert req == GroupChatJoinQuitReq("GC_7", ("10002",), operator_id="10001")
    assert req.encode() == wire


def test_join_quit_bad_payload_reports_the_original_layout() -> None:
    with pytest.raises(OmtpDecodeError, match="vector<string>"):
        GroupChatJoinQuitReq.decode(h("060447435f37 1605 3130303031"))


def test_user_attribute_empty_payload() -> None:
    assert UserAttribute.decode(b"") == UserAttribute("", "", "", "")
    with pytest.raises(OmtpDecodeError):
        UserAttribute.decode(h("0601 31"))
    with pytest.raises(OmtpDecodeError):
        UserAttrSetReq.decode(h("0a0b"))  # the nested attribute still has require fields


def test_user_info_optional_tags() -> None:
    assert UserInfo("1", "n").encode() == h("0601 31 1601 6e")
    assert UserInfo.decode(h("0601 31 1601 6e")) == UserInfo("1", "n", "", "", 0)


# A populated value of every payload struct (§4), each field away from its default where possible.
INFO = GroupChatInfo("GC_7", "team", "http://a/x.png", "10001", "desc", 500, 1700000000000, 1700000000001)
FRIEND = FriendInfo("10001", "10002", "bob")
USER = UserInfo("10002", "Bob", "http://a/b.png", "+100", -86400000)
ATTR = UserAttribute("10001", "10002", "REMARK", "bobby")
ALL_STRUCTS: list[Any] = [
    CommonErrorCode(ErrorCode.EC_PARAM, "bad"),
    LoginReq("10001", "alice", "pw", DeviceType.IOS, "iPhone", "dev-1", "2.0"),
    LoginResp(CommonErrorCode(0, ""), "10001", "extra"),
    KickOutReq(DeviceType.LINUX, "box"),
    KickOutAck(CommonErrorCode(2, "no such device")),
    PushInfo("title", "summary", "http://u"),
    MsgReq(SID, 2**40, 1700000000000, "10001", "10002", PushInfo("a", "b", "c"), 99, "x" * 300, 1),
    MsgAck(CommonErrorCode(41, "too long"), SID, -1, 2**62),
    MsgControl(MsgCtlCmd.OVERRIDE, SID, "m1", 7, "new"),
    MsgReaded(SID, 9),
    HotSessionReq(1700000000123000),
    HotSessionItem(SID, 3, 4, (B8_PACK, Pack(Header(17, 1, 0, "c1"), b"\x00\x01")), '{"top":"1"}'),
    HotSessionResp(CommonErrorCode(25, ""), 1, (HotSessionItem("GC_7", 1, 0), HotSessionItem(SID, 2, 1))),
    MsgHighPrioritySyncReq(5, 50),
    MsgHighPrioritySyncResp(CommonErrorCode(0, ""), 12, (B8_PACK,)),
    HistoryMsgPullReq(SID, 100, 20),
    HistoryMsgPullResp(CommonErrorCode(0, ""), SID, (B8_PACK, B8_PACK)),
    SessionMonitor(SID),
    SyncDataReq(SyncCmd.FRIEND, "10002"),
    INFO,
    GroupChatSyncReq(1700000000000),
    GroupChatSyncResp(
        CommonErrorCode(0, ""), 5, (INFO, GroupChatInfo("GC_8", "x", creator_id="1")), ("GC_7", "GC_8")
    ),
    GroupChatCreateReq(INFO, ("10002", "10003")),
    GroupChatCreateResp(CommonErrorCode(0, ""), "GC_7"),
    GroupChatJoinQuitReq("GC_7", ("10002",)),
    GroupChatJoinQuitReq("GC_7", ("10002",), operator_id="10001"),
    GroupChatDismissReq("GC_7", "10001"),
    GroupChatCreatorUpdateReq("GC_7", "10001", "10002"),
    GroupChatInfoUpdateReq("10001", INFO),
    GroupChatMemberGetReq("GC_7"),
    GroupChatMemberGetResp(CommonErrorCode(0, ""), "GC_7", ("10001", "10002")),
    FRIEND,
    FriendAddReq((FRIEND,)),
    FriendDelReq((FRIEND, FriendInfo("10001", "10003", ""))),
    FriendSyncReq(0),
    FriendSyncResp(CommonErrorCode(0, ""), (FRIEND,)),
    USER,
    UserInfoGetReq(("10001", "10002")),
    UserInfoGetResp(CommonErrorCode(0, ""), (USER,)),
    UserInfoUpdateReq(USER),
    ATTR,
    UserAttrSetReq(ATTR),
    UserAttrGetResp(CommonErrorCode(0, ""), (ATTR, ATTR)),
    SessionAttrSetReq("10001", SID, "top", "1"),
]


@pytest.mark.parametrize("value", ALL_STRUCTS, ids=lambda v: type(v).__name__)
def test_every_struct_round_trips(value: Any) -> None:
    cls = type(value)
    assert cls.decode(value.encode()) == value
    default = cls()
    assert cls.decode(default.encode()) == default


def test_every_struct_of_the_brief_is_covered() -> None:
    names = {type(v).__name__ for v in ALL_STRUCTS}
    assert len(names) == 43


@pytest.mark.parametrize(
    "value",
    [
        MsgReq(session_id="s", from_="1", to="2"),
        MsgReq("s" * 300, -(2**63), 2**63 - 1, "é", "", PushInfo(url="u"), -5, "", -(2**31)),
        B6,
        B8,
        MsgAck(),
        MsgAck(CommonErrorCode(0, "x"), "s", 2**31, -129),
        MsgAck(CommonErrorCode(-1, ""), "é" * 200, 0, 0),
    ],
)
def test_hand_written_encoders_match_the_generic_one(value: Any) -> None:
    assert value.encode() == type(value)._spec.encode(value)


def test_enumerations() -> None:
    assert PackType.MSG_SINGLE_CHAT == 14
    assert PackType.GROUPCHAT_JION == 42
    assert PackType.SESSIONATTRIBUTE_SET == 58
    assert ErrorCode.EC_PARAM == 2
    assert ErrorCode.EC_MSG_INVALID_FORMAT == 42
    assert ErrorCode.EC_USER_BLACKLISt == 51
    assert (codec.FLAG_ACK, codec.FLAG_DUP, codec.FLAG_COUNTER, codec.FLAG_OVERRIDE, codec.FLAG_REVOKE) == (
        1,
        2,
        4,
        8,
        16,
    )
    assert FLAG_HIGHPRJ == 0x20
    assert FLAG_COMPRESS_MASK == 0x1C0
    assert FLAG_CRYPTO_MASK == 0xE00
    assert DeviceType.WINDOWS == 4
    assert MsgCtlCmd.DELETE == 3
    assert SyncCmd.GROUPMEMBER == 4
