"""Property tests: whatever a peer sends, the codec answers with frames or BeehiveDecodeError only,
and encode/decode are inverse for every header and body the schema allows."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyim.protocols.beehive.codec import (
    BODY_TYPES,
    HEADER,
    HEADER_SIZE,
    BeehiveDecodeError,
    Cmd,
    Decoder,
    ErrorKind,
    Frame,
    Header,
    check_client_command,
    decode_body,
    encode_body,
    encode_frame,
)
from tests.protocols.fuzzing import chunks, feed_all, mutated_stream

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

U32 = st.integers(0, 2**32 - 1)
U64 = st.integers(0, 2**64 - 1)
SMALL_MAX_FRAME = 512

# A handful of well-formed frames to mutate: protobuf bodies, an empty one and an opaque one.
SEED_FRAMES = [
    encode_frame(Header(Cmd.ONLINE, sid=30001, seq=1), bytes.fromhex("08914e10b1ea011a03746f6b22002a00")),
    encode_frame(
        Header(Cmd.CHAT, sid=30001, seq=101), bytes.fromhex("08914e10924e18002080e2cfaa062a0568656c6c6f")
    ),
    encode_frame(Header(Cmd.PING, sid=30001, seq=102)),
    encode_frame(Header(Cmd.P2P, sid=30001, cid=1, nid=1, seq=7), b"\x00opaque\xff"),
    encode_frame(Header(Cmd.GROUP_USR_LIST, sid=30001, seq=9), bytes.fromhex("08a19c011000")),
]


def _feed_all(decoder: Decoder, pieces: list[bytes]) -> tuple[list[Frame], BeehiveDecodeError | None]:
    frames, exc = feed_all(decoder.feed, BeehiveDecodeError, pieces)
    assert exc is None or isinstance(exc, BeehiveDecodeError)
    return frames, exc


# --------------------------------------------------------------------------------------------------
# Garbage in: BeehiveDecodeError out, nothing else


@FUZZ
@given(st.binary(max_size=2048), st.lists(st.integers(0, 4096), max_size=8))
def test_random_bytes_tcp(data: bytes, cuts: list[int]) -> None:
    _feed_all(Decoder(max_frame=SMALL_MAX_FRAME), chunks(data, cuts))


@FUZZ
@given(st.binary(max_size=1024))
def test_random_bytes_websocket(data: bytes) -> None:
    try:
        frame = Decoder(max_frame=SMALL_MAX_FRAME).decode_message(data)
    except BeehiveDecodeError as exc:
        assert exc.kind is ErrorKind.CLOSE
    else:
        assert HEADER_SIZE + len(frame.body) == len(data)


@FUZZ
@given(mutated_stream(SEED_FRAMES), st.lists(st.integers(0, 4096), max_size=6))
def test_mutated_frames_any_split_gives_the_same_result(data: bytes, cuts: list[int]) -> None:
    whole = _feed_all(Decoder(max_frame=SMALL_MAX_FRAME), [data])
    split = _feed_all(Decoder(max_frame=SMALL_MAX_FRAME), chunks(data, cuts))
    assert whole[0] == split[0]
    assert (whole[1] is None) == (split[1] is None)
    if whole[1] is not None and split[1] is not None:
        assert whole[1].kind is split[1].kind is ErrorKind.CLOSE
        assert whole[1].header == split[1].header


@FUZZ
@given(mutated_stream(SEED_FRAMES))
def test_mutated_frames_websocket_and_bodies(data: bytes) -> None:
    try:
        frame = Decoder().decode_message(data)
    except BeehiveDecodeError:
        return
    try:
        check_client_command(frame.header.type)
    except BeehiveDecodeError as exc:
        assert exc.kind is ErrorKind.ERROR_REPLY
    if frame.header.type in BODY_TYPES:
        try:
            decode_body(frame.header.type, frame.body)
        except BeehiveDecodeError as exc:
            assert exc.kind is ErrorKind.BAD_BODY


@FUZZ
@given(st.one_of(st.sampled_from(sorted(BODY_TYPES)), U32), st.binary(max_size=256))
def test_random_bodies(cmd: int, body: bytes) -> None:
    try:
        msg = decode_body(cmd, body)
    except BeehiveDecodeError as exc:
        assert exc.kind is ErrorKind.BAD_BODY
        assert exc.code == 20011
    else:
        assert msg.IsInitialized()
        # what decoded must re-encode (unknown fields dropped, strings valid UTF-8)
        assert decode_body(cmd, encode_body(msg)) == msg


@FUZZ
@given(st.sampled_from(sorted(BODY_TYPES)), st.data())
def test_mutated_valid_bodies(cmd: int, data: st.DataObject) -> None:
    body = bytearray(encode_body(data.draw(message_of(BODY_TYPES[cmd]))))
    for _ in range(data.draw(st.integers(1, 4))):
        if body and data.draw(st.booleans()):
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
        else:
            del body[data.draw(st.integers(0, len(body))) :]
    try:
        decode_body(cmd, bytes(body))
    except BeehiveDecodeError as exc:
        assert exc.kind is ErrorKind.BAD_BODY


# --------------------------------------------------------------------------------------------------
# Round trips

headers = st.builds(
    Header,
    type=U32,
    length=U32,  # ignored by encode_frame
    sid=st.integers(1, 2**64 - 1),
    cid=U64,
    nid=U32,
    seq=U64,
    dsid=U64,
    dseq=U64,
)


@FUZZ
@given(st.lists(st.tuples(headers, st.binary(max_size=300)), min_size=1, max_size=5), st.data())
def test_header_round_trip(items: list[tuple[Header, bytes]], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(h, body) for h, body in items)
    expected = [
        Frame(Header(h.type, len(body), h.sid, h.cid, h.nid, h.seq, h.dsid, h.dseq), body)
        for h, body in items
    ]
    cuts = data.draw(st.lists(st.integers(0, len(wire)), max_size=10))
    frames, err = _feed_all(Decoder(), chunks(wire, cuts))
    assert err is None
    assert frames == expected
    for (h, body), frame in zip(items, expected, strict=True):
        one = encode_frame(h, body)
        assert HEADER.unpack_from(one)[2:] == (h.sid, h.cid, h.nid, h.seq, h.dsid, h.dseq)
        assert Decoder().decode_message(one) == frame


def _field_values(field: Any) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_UINT64:
        return U64
    if field.type == FieldDescriptor.TYPE_UINT32:
        return U32
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.text(max_size=20)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=20)
    raise AssertionError(f"schema uses an unexpected field type {field.type}")


@st.composite
def message_of(draw: st.DrawFn, cls: type[Message]) -> Message:
    """A random initialised message: every required field, optional ones at random."""
    msg = cls()
    for field in cls.DESCRIPTOR.fields:
        if field.is_required or draw(st.booleans()):
            setattr(msg, field.name, draw(_field_values(field)))
    return msg


@FUZZ
@given(st.sampled_from(sorted(BODY_TYPES)), st.data())
def test_body_round_trip(cmd: int, data: st.DataObject) -> None:
    msg = data.draw(message_of(BODY_TYPES[cmd]))
    body = encode_body(msg)
    assert decode_body(cmd, body) == msg
    # fields are written in ascending number: re-encoding is byte-identical
    assert encode_body(decode_body(cmd, body)) == body
