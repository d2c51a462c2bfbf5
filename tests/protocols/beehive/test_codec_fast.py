"""The hand-written CHAT and CHAT-ACK readers and the CHAT, GROUP-CHAT and CHAT-ACK writers against the
protobuf runtime, which stays the judge: whatever a client sends, the fast path refuses exactly what
:func:`decode_body` refuses and otherwise reads the same values; the writers produce the runtime's
bytes."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive import codec as c
from tests.protocols.fuzzing import raw_fields

PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UINT64 = st.integers(0, 2**64 - 1)
UINT32 = st.integers(0, 2**32 - 1)
TEXT = st.one_of(st.just(""), st.text(max_size=12))
CHAT_FIELDS = ("suid", "duid", "level", "time", "text", "data")


def chats(cls: Any = pb.mesg_chat) -> st.SearchStrategy[Any]:
    names = ("suid", "duid") if cls is pb.mesg_chat else ("uid", "gid")

    def build(a: int, b: int, level: int, time: int, text: str, data: bytes | None) -> Any:
        msg = cls(**{names[0]: a, names[1]: b}, level=level, time=time, text=text)
        if data is not None:
            msg.data = data
        return msg

    return st.builds(build, UINT64, UINT64, UINT32, UINT64, TEXT, st.none() | st.binary(max_size=8))


def read(decode: Any, body: bytes, names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """What ``decode`` makes of ``body``, field by field; None where it refuses it."""
    try:
        value = decode(body)
    except c.BeehiveDecodeError:
        return None
    return tuple(getattr(value, n) for n in names) if names else value


def runtime_chat(body: bytes) -> tuple[Any, ...] | None:
    return read(lambda b: c.decode_body(c.Cmd.CHAT, b), body, CHAT_FIELDS)


@PROPERTY
@given(chats())
def test_a_chat_a_library_writes_reads_fast_as_the_runtime_reads_it(msg: pb.mesg_chat) -> None:
    body = msg.SerializeToString()
    fast = c._decode_chat_fast(body)
    assert fast is not None
    assert tuple(getattr(fast, n) for n in CHAT_FIELDS) == runtime_chat(body)


CHAT_SCHEMA = {1: 0, 2: 0, 3: 0, 4: 0, 5: 2, 6: 2}
CHAT_ACK_SCHEMA = {1: 0, 2: 0, 3: 0, 4: 2}


@settings(PROPERTY, max_examples=1000)
@given(st.one_of(raw_fields(CHAT_SCHEMA, required=5), st.binary(max_size=30)))
@example(b"\x08\x01\x10\x02\x18\x00\x20\x00\x2a\x01a\x32\x01b\x32\x01c")  # data twice: the last wins
def test_any_chat_body_is_refused_or_read_as_the_runtime_reads_it(body: bytes) -> None:
    assert read(lambda b: c.decode_request(c.Cmd.CHAT, b), body, CHAT_FIELDS) == runtime_chat(body)


@settings(PROPERTY, max_examples=1000)
@given(st.one_of(raw_fields(CHAT_ACK_SCHEMA, required=4), st.binary(max_size=30)))
@example(b"\x08\x01\x10\x02\x18\x00\x22\x01a\x22\x01\xff")  # errmsg twice, the last not UTF-8
def test_any_chat_ack_body_names_the_ids_the_runtime_reads(body: bytes) -> None:
    expected = read(lambda b: c.decode_body(c.Cmd.CHAT_ACK, b), body, ("suid", "duid"))
    assert read(c.chat_ack_ids, body, ()) == expected


@PROPERTY
@given(st.one_of(chats(), chats(pb.mesg_group_chat)))
def test_the_chat_writer_writes_the_runtimes_bytes(msg: Any) -> None:
    a, b = (msg.suid, msg.duid) if isinstance(msg, pb.mesg_chat) else (msg.uid, msg.gid)
    if not msg.data:
        msg.ClearField("data")  # the server writes data only where there is some
    assert c.encode_chat(a, b, msg.level, msg.time, msg.text, msg.data) == msg.SerializeToString()


@PROPERTY
@given(UINT64, UINT64, UINT32, TEXT)
def test_the_chat_ack_writer_writes_the_runtimes_bytes(suid: int, duid: int, code: int, errmsg: str) -> None:
    expected = pb.mesg_chat_ack(suid=suid, duid=duid, code=code, errmsg=errmsg).SerializeToString()
    assert c.encode_chat_ack(suid, duid, code, errmsg) == expected


_FIELD = st.one_of(UINT64, st.integers(-(2**70), 2**70), st.sampled_from([0, 2**31, 2**32, 2**63, 2**64]))


@PROPERTY
@given(st.tuples(_FIELD, _FIELD, _FIELD, _FIELD, _FIELD, _FIELD, _FIELD), st.binary(max_size=64))
def test_the_header_writer_writes_what_struct_packs_and_refuses_what_it_refuses(
    fields: tuple[int, int, int, int, int, int, int], body: bytes
) -> None:
    cmd, sid, cid, nid, seq, dsid, dseq = fields
    try:
        packed: bytes | None = c.HEADER.pack(cmd, len(body), sid, cid, nid, seq, dsid, dseq) + body
    except struct.error:
        packed = None
    try:
        written: bytes | None = c.frame_bytes(cmd, sid, cid, nid, seq, body, c.DEFAULT_MAX_FRAME, dsid, dseq)
    except ValueError:
        written = None
    assert written == packed
