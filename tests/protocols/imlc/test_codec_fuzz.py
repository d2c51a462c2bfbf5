"""Property tests: whatever a peer sends, the imlc codec answers with frames or ImlcDecodeError only,
any split of the stream gives the same frames, and every command's bodies survive encode → decode."""

from __future__ import annotations

import contextlib
import zlib

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyim.protocols.imlc import imlc_pb2 as pb
from polyim.protocols.imlc.codec import (
    HEADER,
    NOTIFY_TYPES,
    REPLY_TYPES,
    REQUEST_TYPES,
    Command,
    Decoder,
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
from tests.protocols.fuzzing import chunks, feed_all, mutated_stream

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_MAX_BODY = 512

_MSG = pb.Message(
    message_id=1,
    message_content=pb.MessageContent(content_type=1, searchable_content="hello"),
    conversation=pb.Conversation(target="10001"),
)
# Well-formed client frames to mutate: protobuf bodies, a gzip one, empty ones.
SEED_FRAMES = [
    encode_frame(Command.LOGIN, 1, Flow.REQUEST, encode_body(pb.LoginRequest(uid="10000", token="t"))),
    encode_frame(Command.MS, 2, Flow.REQUEST, encode_body(_MSG)),
    encode_frame(Command.MS, 3, Flow.REQUEST, encode_body(_MSG), gzip=True),
    encode_frame(Command.PING, 4, Flow.REQUEST),
    encode_frame(Command.ROOM, 5, Flow.REQUEST, encode_body(pb.Room(rid="7", op=pb.ROOM_OP_JOIN))),
    encode_frame(Command.MN, 0, Flow.NOTIFY, encode_body(_MSG)),
]


def _serve(frames: list[Frame]) -> None:
    """What a server does with each frame; only the codec's error may come out of it."""
    for frame in frames:
        with contextlib.suppress(ImlcDecodeError):
            check_request(frame)
            if body_type(frame.command) is not None:
                decode_body(frame.command, inflate(frame, SMALL_MAX_BODY))


def _feed_all(decoder: Decoder, pieces: list[bytes]) -> tuple[list[Frame], ImlcDecodeError | None]:
    frames, exc = feed_all(decoder.feed, ImlcDecodeError, pieces)
    assert exc is None or isinstance(exc, ImlcDecodeError)
    return frames, exc


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_the_codec_error(data: bytes) -> None:
    frames, _ = _feed_all(Decoder(SMALL_MAX_BODY), [data])
    _serve(frames)


@FUZZ
@given(mutated_stream(SEED_FRAMES))
def test_mutated_frames_raise_only_the_codec_error(data: bytes) -> None:
    frames, _ = _feed_all(Decoder(SMALL_MAX_BODY), [data])
    _serve(frames)


@FUZZ
@given(st.binary(max_size=600), st.integers(0, 3))
def test_mutated_gzip_bodies_raise_only_the_codec_error(payload: bytes, cut: int) -> None:
    packer = zlib.compressobj(wbits=31)
    gz = packer.compress(payload) + packer.flush()
    for body in (gz[: len(gz) - cut], gz[::-1], gz + payload[:cut]):
        frame = Frame(Command.MS, 1, 0x10, 0, body)
        with contextlib.suppress(ImlcDecodeError):
            decode_body(Command.MS, inflate(frame, SMALL_MAX_BODY))


@FUZZ
@given(mutated_stream(SEED_FRAMES), st.lists(st.integers(0, 10_000), max_size=8))
def test_any_split_gives_the_same_frames_and_error(data: bytes, cuts: list[int]) -> None:
    whole, whole_exc = _feed_all(Decoder(SMALL_MAX_BODY), [data])
    split, split_exc = _feed_all(Decoder(SMALL_MAX_BODY), chunks(data, cuts))
    assert split == whole
    assert (split_exc is None) == (whole_exc is None)
    if split_exc is not None and whole_exc is not None:
        assert (split_exc.kind, split_exc.status, split_exc.seq) == (
            whole_exc.kind,
            whole_exc.status,
            whole_exc.seq,
        )


@FUZZ
@given(mutated_stream(SEED_FRAMES))
def test_byte_at_a_time_gives_the_same_frames(data: bytes) -> None:
    whole, whole_exc = _feed_all(Decoder(SMALL_MAX_BODY), [data])
    single, single_exc = _feed_all(Decoder(SMALL_MAX_BODY), [data[i : i + 1] for i in range(len(data))])
    assert single == whole
    assert (single_exc is None) == (whole_exc is None)


# --------------------------------------------------------------------------------------------------
# Round trips of every command's bodies, in every flow they travel

_I32 = st.integers(-(2**31), 2**31 - 1)
_SCALARS = {
    FieldDescriptor.TYPE_STRING: st.text(max_size=20),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=20),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_ENUM: st.one_of(st.integers(0, 20), _I32),
}


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(field.message_type, depth + 1)
    return _SCALARS[field.type]


def _message(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Any value of the message: each field set or not (at most one per oneof), nesting bounded."""
    cls = getattr(pb, descriptor.name)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        msg = cls()
        for field in descriptor.fields:
            if (depth > 2 and field.type == FieldDescriptor.TYPE_MESSAGE) or not draw(st.booleans()):
                continue
            if field.is_repeated:
                values = draw(st.lists(_value(field, depth), max_size=3))
                getattr(msg, field.name).extend(values)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                getattr(msg, field.name).CopyFrom(draw(_value(field, depth)))
            else:
                setattr(msg, field.name, draw(_value(field, depth)))
        return msg

    return build()


_ROUTES = (
    [(cmd, Flow.REQUEST, 0, cls) for cmd, cls in REQUEST_TYPES.items()]
    + [(cmd, Flow.REPLY, 0, cls) for cmd, cls in REPLY_TYPES.items()]
    + [(cmd, Flow.NOTIFY, 0, cls) for cmd, cls in NOTIFY_TYPES.items()]
    + [(cmd, Flow.REPLY, Status.NOT_FOUND, pb.Error) for cmd in REPLY_TYPES]
)


@st.composite
def routed_message(draw: st.DrawFn) -> tuple[int, Flow, int, Message]:
    cmd, flow, status, cls = draw(st.sampled_from(_ROUTES))
    return cmd, flow, status, draw(_message(cls.DESCRIPTOR))


def test_every_route_is_covered() -> None:
    assert {cmd for cmd, *_ in _ROUTES} == set(Command) - {Command.RESERVED, Command.PING}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routed_message(), st.integers(0, 2**32 - 1), st.booleans())
def test_encode_decode_round_trip(route: tuple[int, Flow, int, Message], seq: int, gzip: bool) -> None:
    cmd, flow, status, msg = route
    body = encode_body(msg)
    (frame,) = Decoder().feed(encode_frame(cmd, seq, flow, body, status, gzip=gzip))
    assert (frame.command, frame.seq, frame.flow, frame.status, frame.compression) == (
        cmd,
        seq,
        flow,
        status,
        int(gzip and bool(body)),
    )
    assert decode_body(frame.command, inflate(frame), frame.flow, frame.status) == msg


@FUZZ
@given(st.integers(0, 2**32 - 1), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40))
def test_header_fields_round_trip(seq: int, command: int, status: int, body: bytes) -> None:
    wire = encode_frame(command, seq, Flow.REPLY, body, status)
    assert HEADER.unpack_from(wire) == (len(body), 1, seq, command, Flow.REPLY, status)
    assert Decoder().feed(wire) == [Frame(command, seq, Flow.REPLY, status, body)]
