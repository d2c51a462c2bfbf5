"""The hand-written MS reader and the MN/SendAck writers against the protobuf runtime, which stays the
judge: for any Message a protobuf library writes, the fast reader gives what the runtime parses; for any
bytes at all, :func:`decode_send` refuses exactly what the runtime refuses and otherwise agrees with it;
and the writers produce the runtime's bytes for the same fields."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from tests.protocols.fuzzing import mutated_stream, raw_fields, varint

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UINT64 = st.integers(0, 2**64 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
ENUM = st.one_of(st.integers(0, 20), st.integers(-(2**31), 2**31 - 1))
TEXT = st.one_of(st.just(""), st.text(max_size=12), st.sampled_from(["10001", "0", "é", "\U0001f600"]))
DATA = st.binary(max_size=12)

CONTENTS = st.builds(
    lambda *v: pb.MessageContent(
        content_type=v[0],
        searchable_content=v[1],
        push_content=v[2],
        data=v[3],
        mentioned_type=v[4],
        mentioned_targets=v[5],
        media_type=v[6],
        msg_length=v[7],
        remote_media_url=v[8],
        local_media_path=v[9],
    ),
    ENUM,
    TEXT,
    TEXT,
    DATA,
    ENUM,
    st.lists(TEXT, max_size=3),
    UINT32,
    UINT32,
    TEXT,
    st.one_of(st.just(""), TEXT),
)


@st.composite
def messages(draw: st.DrawFn) -> pb.Message:
    msg = pb.Message(
        message_id=draw(UINT64),
        to=draw(TEXT),
        server_id=draw(INT64),
        seq=draw(UINT64),
        server_time_ms=draw(INT64),
        status=draw(ENUM),
    )
    setattr(msg, "from", draw(TEXT))
    if draw(st.booleans()):
        msg.message_content.CopyFrom(draw(CONTENTS))
    if draw(st.booleans()):
        msg.conversation.type = draw(ENUM)
        msg.conversation.target = draw(TEXT)
    return msg


FIELDS = [name for name in vars(c.Sent) if not name.startswith("_")] + ["targets"]


def fields(sent: c.Sent) -> dict[str, Any]:
    return {name: getattr(sent, name) for name in FIELDS}


def runtime(body: bytes) -> dict[str, Any] | None:
    """What the runtime makes of an MS body, None where it refuses it."""
    try:
        return fields(c.sent_of(c.decode_body(c.Command.MS, body)))
    except c.ImlcDecodeError:
        return None


@PROPERTY
@given(messages())
def test_what_a_protobuf_library_writes_reads_fast_as_the_runtime_reads_it(msg: pb.Message) -> None:
    body = msg.SerializeToString()
    fast = c._decode_send_fast(body)
    if msg.message_content.local_media_path:
        assert fast is None  # dropped by the server, but counted in the content's size: the runtime's
        return
    # Whatever the client sends, in the layout its library writes, takes the fast path.
    assert fast is not None
    assert fields(fast) == runtime(body)


@PROPERTY
@given(st.data())
def test_any_bytes_are_refused_or_read_exactly_as_the_runtime_does(data: st.DataObject) -> None:
    seed = data.draw(messages()).SerializeToString()
    body = data.draw(st.one_of(st.binary(max_size=40), mutated_stream([seed])))
    refused_or_read_as_the_runtime(body)


def test_a_varint_cut_by_the_contents_end_is_the_runtimes_to_judge() -> None:
    """The content's last varint runs on into the Message's next field: the runtime refuses it."""
    refused_or_read_as_the_runtime(b"\x08\x01\x12\x04\x08\x01\x40\x80\x48\x01")
    refused_or_read_as_the_runtime(
        b'\x08\x01\x12\x1e\x1a\x04\x00\x00\xc2\x80"\x01\x00(\x012\x002\x04\xc2\x80'
        b"\xc2\x802\x01\x008\x80\x80\x01@\x80\x80\x80H\x01"
    )


def refused_or_read_as_the_runtime(body: bytes) -> None:
    expected = runtime(body)
    try:
        got = fields(c.decode_send(body))
    except c.ImlcDecodeError:
        got = None
    assert got == expected


CONTENT_SCHEMA = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 0, 8: 0, 9: 2, 10: 2}
MESSAGE_SCHEMA = {1: 0, 2: CONTENT_SCHEMA, 3: {1: 0, 2: 2}, 4: 2, 5: 2, 6: 0, 7: 0, 8: 0, 9: 0}


def in_a_message(content: bytes) -> bytes:
    """``content`` as the MessageContent of an MS that is canonical otherwise."""
    return b"\x08\x01\x12" + varint(len(content), 0) + content + b"\x1a\x04\x12\x0210"


@settings(PROPERTY, max_examples=1000)
@given(st.one_of(raw_fields(MESSAGE_SCHEMA), raw_fields(CONTENT_SCHEMA).map(in_a_message)))
def test_forms_no_library_writes_are_read_as_the_runtime_reads_them(body: bytes) -> None:
    try:
        got = fields(c.decode_send(body))
    except c.ImlcDecodeError:
        got = None
    assert got == runtime(body)


@PROPERTY
@given(messages())
def test_the_writers_write_the_runtimes_bytes(msg: pb.Message) -> None:
    msg.message_content.local_media_path = ""  # never sent by the server
    content = msg.message_content
    conv = msg.conversation
    msg.conversation.SetInParent()  # the server always names the conversation
    content_body = (
        c.encode_content(
            content.content_type,
            content.searchable_content,
            content.push_content,
            content.data,
            content.mentioned_type,
            list(content.mentioned_targets),
            content.media_type,
            content.msg_length,
            content.remote_media_url,
        )
        if msg.HasField("message_content")
        else None
    )
    body = c.encode_message(
        msg.message_id,
        content_body,
        conv.type,
        conv.target,
        getattr(msg, "from"),
        msg.to,
        msg.server_id,
        msg.seq,
        msg.server_time_ms,
        msg.status,
    )
    assert body == msg.SerializeToString()


@PROPERTY
@given(UINT64, INT64, UINT64, INT64)
@example(2**42 - 1, 2**42, 2**49, 7_402_946_560_515_903_493)  # the writer splits values over 42 bits
def test_the_send_ack_is_the_runtimes(message_id: int, server_id: int, seq: int, time_ms: int) -> None:
    expected = pb.SendAck(message_id=message_id, server_id=server_id, seq=seq, server_time_ms=time_ms)
    assert c.encode_send_ack(message_id, server_id, seq, time_ms) == expected.SerializeToString()
