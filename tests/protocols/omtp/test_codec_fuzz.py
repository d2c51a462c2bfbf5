"""Property tests: garbage and mutated frames raise only OmtpDecodeError; encode/decode round trips."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyim.protocols.omtp import codec
from polyim.protocols.omtp.codec import (
    CommonErrorCode,
    Decoder,
    GroupChatInfo,
    GroupChatSyncResp,
    Header,
    HotSessionItem,
    HotSessionResp,
    MsgAck,
    MsgReq,
    OmtpDecodeError,
    Pack,
    PushInfo,
    encode_pack,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

STRUCTS: tuple[Any, ...] = (
    codec.CommonErrorCode,
    codec.LoginReq,
    codec.LoginResp,
    codec.KickOutReq,
    codec.KickOutAck,
    codec.PushInfo,
    codec.MsgReq,
    codec.MsgAck,
    codec.MsgControl,
    codec.MsgReaded,
    codec.HotSessionReq,
    codec.HotSessionItem,
    codec.HotSessionResp,
    codec.MsgHighPrioritySyncReq,
    codec.MsgHighPrioritySyncResp,
    codec.HistoryMsgPullReq,
    codec.HistoryMsgPullResp,
    codec.SessionMonitor,
    codec.SyncDataReq,
    codec.GroupChatInfo,
    codec.GroupChatSyncReq,
    codec.GroupChatSyncResp,
    codec.GroupChatCreateReq,
    codec.GroupChatCreateResp,
    codec.GroupChatJoinQuitReq,
    codec.GroupChatDismissReq,
    codec.GroupChatCreatorUpdateReq,
    codec.GroupChatInfoUpdateReq,
    codec.GroupChatMemberGetReq,
    codec.GroupChatMemberGetResp,
    codec.FriendInfo,
    codec.FriendAddReq,
    codec.FriendDelReq,
    codec.FriendSyncReq,
    codec.FriendSyncResp,
    codec.UserInfo,
    codec.UserInfoGetReq,
    codec.UserInfoGetResp,
    codec.UserInfoUpdateReq,
    codec.UserAttribute,
    codec.UserAttrSetReq,
    codec.UserAttrGetResp,
    codec.SessionAttrSetReq,
    codec.Header,
    codec.Pack,
)

int16 = st.integers(-(2**15), 2**15 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
# Mostly small values (the narrow forms), sometimes anything in range.
small_or_any = st.one_of(st.integers(-200, 200), int32)
text = st.text(max_size=40) | st.sampled_from(["", "LP_G1_10001_10002", "é" * 130])

headers = st.builds(Header, int16, int16, st.integers(0, 2**32 - 1), text)
packs = st.builds(Pack, headers, st.binary(max_size=300))
push_infos = st.builds(PushInfo, text, text, text)
error_codes = st.builds(CommonErrorCode, small_or_any, text)
msg_reqs = st.builds(MsgReq, text, int64, int64, text, text, push_infos, small_or_any, text, small_or_any)
msg_acks = st.builds(MsgAck, error_codes, text, int64, int64)
hot_items = st.builds(HotSessionItem, text, int64, small_or_any, st.lists(packs, max_size=3).map(tuple), text)
hot_resps = st.builds(HotSessionResp, error_codes, int64, st.lists(hot_items, max_size=3).map(tuple))

SAMPLES: list[Pack] = [
    Pack(Header(10, 1, 0, "p1")),
    Pack(
        Header(14, 1, 0x21, "m1"),
        MsgReq("LP_G1_1_2", 1, 2, "1", "2", PushInfo("t", "s"), 1, "hello").encode(),
    ),
    Pack(
        Header(19, 1, 1, "h1"),
        HotSessionResp(
            CommonErrorCode(0, ""),
            5,
            (
                HotSessionItem(
                    "s", 3, 1, (Pack(Header(14, 1, 0, "m1"), MsgReq("s", from_="1", to="2").encode()),)
                ),
            ),
        ).encode(),
    ),
    Pack(
        Header(40, 1, 1, "g" * 40),
        GroupChatSyncResp(
            CommonErrorCode(0, ""), 1, (GroupChatInfo("GC_1", "n", creator_id="1"),), ("GC_1",)
        ).encode(),
    ),
]
SAMPLE_FRAMES = b"".join(encode_pack(p) for p in SAMPLES)


def tars_field(depth: int) -> st.SearchStrategy[bytes]:
    """Plausible Tars fields: right-looking heads and values, nested, with the odd wrong length."""
    tag = st.integers(0, 20)

    def head(t: int) -> st.SearchStrategy[bytes]:
        return tag.map(lambda g: bytes(((g << 4) | t,)) if g < 15 else bytes((0xF0 | t, g)))

    def count(n: int) -> bytes:
        return bytes((0x0C,)) if n == 0 else bytes((0x00, n))

    scalars = st.one_of(
        st.tuples(head(0), st.binary(min_size=1, max_size=1)),
        st.tuples(head(1), st.binary(min_size=2, max_size=2)),
        st.tuples(head(2), st.binary(min_size=4, max_size=4)),
        st.tuples(head(3), st.binary(min_size=8, max_size=8)),
        st.tuples(head(6), st.binary(max_size=8).map(lambda b: bytes((len(b),)) + b)),
        st.tuples(head(12), st.just(b"")),
        st.tuples(head(13), st.binary(max_size=8).map(lambda b: b"\x00" + count(len(b)) + b)),
        st.tuples(st.integers(0, 255).map(lambda b: bytes((b,))), st.binary(max_size=3)),
    ).map(b"".join)
    if depth == 0:
        return scalars
    inner = tars_field(depth - 1)
    return st.one_of(
        scalars,
        st.tuples(head(10), st.lists(inner, max_size=4).map(b"".join), st.just(b"\x0b")).map(b"".join),
        st.tuples(head(9), st.lists(inner, max_size=4)).map(
            lambda p: p[0] + count(len(p[1])) + b"".join(p[1])
        ),
    )


tars_bodies = st.lists(tars_field(3), max_size=8).map(b"".join)


def frame(body: bytes) -> bytes:
    return (len(body) + 4).to_bytes(4, "big") + body


def feed_all_ways(data: bytes) -> None:
    """Whole, then byte by byte: each either yields packs or raises OmtpDecodeError, and the same way."""
    whole: list[Pack] | None
    try:
        whole = Decoder().feed(data)
    except OmtpDecodeError:
        whole = None
    decoder = Decoder()
    pieces: list[Pack] = []
    try:
        for i in range(len(data)):
            pieces += decoder.feed(data[i : i + 1])
    except OmtpDecodeError:
        assert whole is None
    else:
        assert whole == pieces


def decode_everything(payload: bytes) -> None:
    for cls in STRUCTS:
        with contextlib.suppress(OmtpDecodeError):
            cls.decode(payload)


def check_fast_path(body: bytes) -> None:
    """Whenever the frame fast path accepts a body, the generic decoder must agree exactly."""
    fast = codec._decode_pack_fast(body, 0, len(body))
    if fast is not None:
        assert Pack.decode(body) == fast


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_to_the_decoder(data: bytes) -> None:
    feed_all_ways(data)


@FUZZ
@given(st.binary(max_size=300) | tars_bodies)
def test_random_bodies_in_well_formed_frames(body: bytes) -> None:
    feed_all_ways(frame(body))
    check_fast_path(body)


@FUZZ
@given(st.binary(max_size=200) | tars_bodies)
def test_random_payloads_to_every_struct(payload: bytes) -> None:
    decode_everything(payload)


def mutate(data: bytes, draw: st.DataObject) -> bytes:
    buf = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        if not buf:
            break
        i = draw.draw(st.integers(0, len(buf) - 1))
        op = draw.draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete"]))
        if op == "flip":
            buf[i] ^= 1 << draw.draw(st.integers(0, 7))
        elif op == "byte":
            buf[i] = draw.draw(st.integers(0, 255))
        elif op == "truncate":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw.draw(st.binary(min_size=1, max_size=4))
        else:
            del buf[i : i + draw.draw(st.integers(1, 4))]
    return bytes(buf)


@FUZZ
@given(st.data())
def test_mutated_frames(data: st.DataObject) -> None:
    feed_all_ways(mutate(SAMPLE_FRAMES, data))


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_bodies_and_payloads(pack: Pack, data: st.DataObject) -> None:
    body = mutate(encode_pack(pack)[4:], data)
    feed_all_ways(frame(body))
    check_fast_path(body)
    decode_everything(mutate(pack.payload, data) if pack.payload else b"")


@ROUND_TRIP
@given(msg_reqs)
def test_msg_req_round_trip(value: MsgReq) -> None:
    wire = value.encode()
    assert wire == MsgReq._spec.encode(value)
    assert MsgReq.decode(wire) == value


@ROUND_TRIP
@given(msg_acks)
def test_msg_ack_round_trip(value: MsgAck) -> None:
    wire = value.encode()
    assert wire == MsgAck._spec.encode(value)
    assert MsgAck.decode(wire) == value


@ROUND_TRIP
@given(hot_resps)
def test_hot_session_resp_round_trip(value: HotSessionResp) -> None:
    assert HotSessionResp.decode(value.encode()) == value


@ROUND_TRIP
@given(st.lists(packs, min_size=1, max_size=4), st.data())
def test_pack_round_trip_through_the_decoder(values: list[Pack], data: st.DataObject) -> None:
    stream = b"".join(encode_pack(p) for p in values)
    decoder = Decoder()
    out: list[Pack] = []
    pos = 0
    while pos < len(stream):
        step = data.draw(st.integers(1, 64))
        out += decoder.feed(stream[pos : pos + step])
        pos += step
    assert out == values
    for p in values:
        assert Pack.decode(encode_pack(p)[4:]) == p


@ROUND_TRIP
@given(int16, int16, int64, text)
def test_header_flags_keep_the_low_32_bits(type_: int, version: int, flags: int, pack_id: str) -> None:
    pack = Pack(Header(type_, version, flags, pack_id))
    (decoded,) = Decoder().feed(encode_pack(pack))
    assert decoded.header == Header(type_, version, flags & 0xFFFF_FFFF, pack_id)
