"""The hand-written fast paths of the codec against the generic Tars machinery they shortcut.

Decoding: ``_decode_pack_fast``, ``_decode_msg_req_fast`` and ``_decode_msg_ack_fast`` read only the layout
TarsCpp writes and return None for anything else; ``MsgReq.decode``/``MsgAck.decode`` then fall back to the
generic decoder.  Whatever the fast path accepts must be accepted by the generic decoder with exactly the same
values (types included), and the public ``decode`` must succeed or fail exactly as the generic one does.
Encoding: the hand-written encoders must write the generic encoder's bytes, and refuse what it refuses.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import random
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from librt.strings import BytesWriter

from polyim.protocols.omtp import codec, tars
from polyim.protocols.omtp.codec import (
    CommonErrorCode,
    Header,
    MsgAck,
    MsgReq,
    Pack,
    PushInfo,
    encode_pack,
)

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

int8 = st.integers(-(2**7), 2**7 - 1)
int16 = st.integers(-(2**15), 2**15 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
# The values on either side of every width boundary (INT1/INT2/INT4/INT8 and beyond).
BOUNDARIES = sorted({s * (2**b) + d for b in (7, 15, 31, 63) for s in (1, -1) for d in (-1, 0, 1)})
boundaries32 = st.sampled_from([v for v in BOUNDARIES if -(2**31) <= v < 2**31])
boundaries64 = st.sampled_from([v for v in BOUNDARIES if -(2**63) <= v < 2**63])
# Every width is likely: 0, INT1, INT2, INT4 and INT8 values, and their edges.
ints32 = st.one_of(st.just(0), int8, int16, int32, boundaries32)
ints64 = st.one_of(ints32, int64, boundaries64, st.sampled_from([1_700_000_000_123, 1_700_000_000_000_000]))
text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "LP_G1_10001_10002", "GC_7", "é" * 130, "x" * 255, "y" * 256]),
)
push_infos = st.one_of(st.just(PushInfo()), st.builds(PushInfo, text, text, text))
error_codes = st.one_of(st.just(CommonErrorCode()), st.builds(CommonErrorCode, ints32, text))
msg_reqs = st.builds(MsgReq, text, ints64, ints64, text, text, push_infos, ints32, text, ints32)
msg_acks = st.builds(MsgAck, error_codes, text, ints64, ints64)


def generic(cls: Any, data: bytes) -> Any:
    """What ``cls.decode`` did before the fast paths: the spec-driven decoder alone."""
    return codec._decode(cls._spec, data)


def outcome(decode: Any, data: bytes) -> tuple[Any, ...]:
    try:
        return ("ok", typed(decode(data)))
    except Exception as exc:  # every exception, so that one of another type would show as a difference
        return ("error", type(exc), str(exc))


def typed(value: Any) -> Any:
    """``value`` with the exact type of everything in it, so that 1 == True or a shared instance cannot hide
    a difference."""
    if dataclasses.is_dataclass(value):
        return (type(value), tuple(typed(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return (type(value), value)


# --------------------------------------------------------------------------------------------------------
# A reference writer with every wire form the generic decoder accepts for a field, not just TarsCpp's.


def head(tag: int, t: int) -> bytes:
    return bytes(((tag << 4) | t,)) if tag < 15 else bytes((0xF0 | t, tag))


def int_forms(tag: int, v: int, max_t: int) -> list[bytes]:
    """ZERO_TAG (for 0) and every integer type from the narrowest that holds ``v`` up to ``max_t``."""
    forms = [head(tag, tars.T_ZERO_TAG)] if v == 0 else []
    for t, code in enumerate("bhiq"):
        if t <= max_t and -(2 ** (8 << t) >> 1) <= v < 2 ** (8 << t) >> 1:
            forms.append(head(tag, t) + struct.pack(">" + code, v))
    return forms


def str_forms(tag: int, s: str) -> list[bytes]:
    data = s.encode()
    forms = [head(tag, tars.T_STRING4) + struct.pack(">I", len(data)) + data]
    if len(data) < 256:
        forms.append(head(tag, tars.T_STRING1) + bytes((len(data),)) + data)
    return forms


def push_info_forms(tag: int, p: PushInfo, draw: Any) -> list[bytes]:
    fields = [draw(st.sampled_from(str_forms(0, p.title))), draw(st.sampled_from(str_forms(1, p.summary)))]
    if p.url or draw(st.booleans()):
        fields.append(draw(st.sampled_from(str_forms(2, p.url))))
    forms = [head(tag, tars.T_STRUCT_BEGIN) + b"".join(fields) + b"\x0b"]
    if not p.title and not p.url:  # the seed's string form: the summary
        forms.append(draw(st.sampled_from(str_forms(tag, p.summary))))
    return forms


UNKNOWN_FIELDS = [b"\x9c", b"\xf6\x14\x02hi", b"\xfa\x1e\x06\x00\x0b", b"\xf9\x10\x00\x01\x00\x05"]


@st.composite
def wire_forms(draw: Any, value: Any) -> tuple[bytes, bool]:
    """One encoding of ``value`` (a MsgReq or MsgAck) the generic decoder accepts, and whether it is in the
    layout the fast decoder reads (ascending tags, structs as structs, nothing unknown)."""
    canonical = True
    fields: list[tuple[int, bytes]] = []
    for f in type(value)._spec.fields:
        v = getattr(value, f.name)
        kind = f.kind
        if not f.required and v == f.default and draw(st.booleans()):
            continue  # an optional field at its default may be left out (TarsCpp leaves out all but structs)
        if isinstance(kind, tars.IntKind):
            forms = int_forms(f.tag, v, kind.max_t)
        elif isinstance(kind, tars.StringKind):
            forms = str_forms(f.tag, v)
        elif f.name == "push_info":
            forms = push_info_forms(f.tag, v, draw)
        else:  # MsgAck.error_code: the struct, or the seed's plain int when desc is empty
            inner = draw(st.sampled_from(int_forms(0, v.code, tars.T_INT4)))
            forms = [
                head(f.tag, tars.T_STRUCT_BEGIN)
                + inner
                + draw(st.sampled_from(str_forms(1, v.desc)))
                + b"\x0b"
            ]
            if not v.desc:
                forms += int_forms(f.tag, v.code, tars.T_INT4)
        form = draw(st.sampled_from(forms))
        if f.name in ("push_info", "error_code"):  # the seed's forms are left to the generic decoder
            canonical = canonical and form[0] & 0x0F == tars.T_STRUCT_BEGIN
        fields.append((f.tag, form))
    if draw(st.integers(0, 3)) == 0:
        fields.insert(draw(st.integers(0, len(fields))), (99, draw(st.sampled_from(UNKNOWN_FIELDS))))
        canonical = False
    if draw(st.integers(0, 3)) == 0:
        shuffled = draw(st.permutations(fields))
        canonical = canonical and [t for t, _ in shuffled] == [t for t, _ in fields]
        fields = list(shuffled)
    return b"".join(form for _, form in fields), canonical


# --------------------------------------------------------------------------------------------------------
# Decoding


@PROPERTY
@given(msg_reqs)
def test_msg_req_fast_decoder_reads_what_the_encoder_writes(value: MsgReq) -> None:
    wire = value.encode()
    assert wire == MsgReq._spec.encode(value)  # the hand-written encoder writes the generic encoder's bytes
    fast = codec._decode_msg_req_fast(wire)
    assert fast is not None
    assert typed(fast) == typed(generic(MsgReq, wire)) == typed(value)
    assert typed(MsgReq.decode(wire)) == typed(value)


@PROPERTY
@given(msg_acks)
def test_msg_ack_fast_decoder_reads_what_the_encoder_writes(value: MsgAck) -> None:
    wire = value.encode()
    assert wire == MsgAck._spec.encode(value)  # the hand-written encoder writes the generic encoder's bytes
    fast = codec._decode_msg_ack_fast(wire)
    assert fast is not None
    assert typed(fast) == typed(generic(MsgAck, wire)) == typed(value)
    assert typed(MsgAck.decode(wire)) == typed(value)


@PROPERTY
@given(st.data())
def test_msg_req_any_valid_form(data: st.DataObject) -> None:
    value = data.draw(msg_reqs)
    wire, canonical = data.draw(wire_forms(value))
    expected = generic(MsgReq, wire)
    assert typed(MsgReq.decode(wire)) == typed(expected)
    fast = codec._decode_msg_req_fast(wire)
    if fast is not None:
        assert typed(fast) == typed(expected)
    else:
        assert not canonical, f"the fast path missed a TarsCpp layout: {wire.hex()}"


@PROPERTY
@given(st.data())
def test_msg_ack_any_valid_form(data: st.DataObject) -> None:
    value = data.draw(msg_acks)
    wire, canonical = data.draw(wire_forms(value))
    expected = generic(MsgAck, wire)
    assert typed(MsgAck.decode(wire)) == typed(expected)
    fast = codec._decode_msg_ack_fast(wire)
    if fast is not None:
        assert typed(fast) == typed(expected)
    else:
        assert not canonical, f"the fast path missed a TarsCpp layout: {wire.hex()}"


def mutate(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        if not buf:
            break
        i = rnd.randrange(len(buf))
        op = rnd.randrange(7)
        if op == 0:
            buf[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            buf[i] = rnd.randrange(256)
        elif op == 5:  # if this is a field head: another tag, next to its own most of the time
            buf[i] = (buf[i] + (rnd.choice((-1, 1)) if rnd.random() < 0.7 else rnd.randrange(16)) * 16) & 0xFF
        elif op == 6:  # another type id
            buf[i] = (buf[i] & 0xF0) | rnd.randrange(16)
        elif op == 2:
            del buf[i:]
        elif op == 3:
            buf[i:i] = rnd.randbytes(rnd.randint(1, 4))
        else:
            del buf[i : i + rnd.randint(1, 4)]
    return bytes(buf)


def same_as_generic(cls: Any, fast_decoder: Any, data: bytes) -> None:
    expected = outcome(lambda d: generic(cls, d), data)
    assert outcome(cls.decode, data) == expected
    fast = fast_decoder(data)
    if fast is not None:
        assert expected == ("ok", typed(fast))


@PROPERTY
@given(st.data(), st.randoms(use_true_random=False))
def test_msg_req_mutated_and_random_bytes(data: st.DataObject, rnd: random.Random) -> None:
    wire = data.draw(msg_reqs).encode()
    same_as_generic(MsgReq, codec._decode_msg_req_fast, mutate(wire, rnd))
    same_as_generic(MsgReq, codec._decode_msg_req_fast, wire[: rnd.randrange(len(wire) + 1)])
    same_as_generic(MsgReq, codec._decode_msg_req_fast, data.draw(st.binary(max_size=60)))


@PROPERTY
@given(st.data(), st.randoms(use_true_random=False))
def test_msg_ack_mutated_and_random_bytes(data: st.DataObject, rnd: random.Random) -> None:
    wire = data.draw(msg_acks).encode()
    same_as_generic(MsgAck, codec._decode_msg_ack_fast, mutate(wire, rnd))
    same_as_generic(MsgAck, codec._decode_msg_ack_fast, wire[: rnd.randrange(len(wire) + 1)])
    same_as_generic(MsgAck, codec._decode_msg_ack_fast, data.draw(st.binary(max_size=40)))


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "06",
        "0600",
        "060036004600",  # the smallest MsgReq: three empty require strings
        "0600360046005a",  # pushInfo struct cut off
        "0600360046005a0600160026",
        "0600360046005a06001600",  # no STRUCT_END
        "0600360046005a060016000b0b",  # STRUCT_END at the top
        "0600360046005a060016000b60",  # contentType INT1 without its byte
        "0600360046006300000000000000ff",  # contentType as INT8: wider than int
        "06003600460076ff41",  # content longer than the bytes left
        "0600360046007602c328",  # content not UTF-8
        "060036004600800180",  # status then a stray byte
        "0700000001413600460060016001",  # contentType twice
        "07000000",
        "0600170046003600",  # tags out of order (seqId ... then from as 17: wrong type)
        "0a0c16000b160073",  # MsgAck without seqId and timestamp
        "0a0c16000b16002c3c",  # the smallest MsgAck
        "0a0c16000b16002c3c00",
        "0a0c16000b16002c34",  # timestamp as FLOAT
        "0a0c16000b16002c4c",  # tag 4 (unknown) instead of the timestamp
        "0a0c16000b16003c2c",  # seqId and timestamp swapped
        "0a0316000b16002c3c",  # error code as INT8
        "0a00ff1601e90b16002c3c",  # desc not UTF-8
        "0a0c1600160b16002c3c",
        "0a0c16002c16002c3c",  # a field where the error code's STRUCT_END belongs
        "0a0c16002c0b16002c3c",  # an unknown field inside the error code: skipped
        "0a0c160276310b16002c3c",
        "0c16002c3c",  # the seed's plain int code
        "00070b16002c3c",
    ],
)
def test_edge_payloads_decode_as_the_generic_decoder_does(wire: str) -> None:
    data = bytes.fromhex(wire)
    same_as_generic(MsgReq, codec._decode_msg_req_fast, data)
    same_as_generic(MsgAck, codec._decode_msg_ack_fast, data)


headers = st.builds(
    Header,
    st.one_of(int8, int16),
    st.one_of(int8, int16),
    st.one_of(st.integers(0, 0x7F), st.integers(0, 2**32 - 1)),
    text,
)
packs = st.builds(Pack, headers, st.one_of(st.binary(max_size=200), st.just(bytes(40_000))))


@PROPERTY
@given(packs, st.booleans())
def test_pack_fast_decoder_agrees_with_the_generic_one(pack: Pack, as_bytearray: bool) -> None:
    frame = encode_pack(pack)
    buf = bytearray(frame) if as_bytearray else frame
    fast = codec._decode_pack_fast(frame, 4, len(frame))  # the decoder hands it bytes
    h = pack.header
    if (
        -0x80 <= h.type <= 0x7F
        and h.type != 0  # 0 is written as ZERO_TAG, not INT1
        and -0x80 <= h.version <= 0x7F
        and h.flags <= 0x7F
        and len(h.pack_id.encode()) < 256
        and len(pack.payload) < 0x8000
    ):
        assert fast is not None  # the layout every known client writes
    if fast is not None:
        assert typed(fast) == typed(codec.PACK_SPEC.decode(buf, 4, len(buf))) == typed(pack)
    (decoded,) = codec.Decoder().feed(buf)
    assert typed(decoded) == typed(pack)


# --------------------------------------------------------------------------------------------------------
# Objects built by the fast decoders (native classes under mypyc) and by the replaced __init__

NATIVE = (Header, Pack, CommonErrorCode, PushInfo, MsgReq, MsgAck)


def test_fast_decoded_objects_are_the_real_thing() -> None:
    wire = MsgReq("s", 1, 2, "a", "b", PushInfo("t", "u", "v"), 1, "hi", 3).encode()
    fast = codec._decode_msg_req_fast(wire)
    assert fast is not None
    built = MsgReq("s", 1, 2, "a", "b", PushInfo("t", "u", "v"), 1, "hi", 3)
    assert type(fast) is MsgReq and type(fast.push_info) is PushInfo
    assert fast == built and hash(fast) == hash(built) and repr(fast) == repr(built)
    assert fast != dataclasses.replace(built, seq_id=5) and hash(fast) != hash(
        dataclasses.replace(built, seq_id=5)
    )
    assert pickle.loads(pickle.dumps(fast)) == built
    assert dataclasses.replace(fast, seq_id=9) == dataclasses.replace(built, seq_id=9)
    ack = codec._decode_msg_ack_fast(MsgAck(CommonErrorCode(7, "no"), "s", 1, 2).encode())
    assert ack is not None and type(ack) is MsgAck and type(ack.error_code) is CommonErrorCode
    assert ack == MsgAck(CommonErrorCode(7, "no"), "s", 1, 2) and hash(ack) == hash(
        MsgAck(CommonErrorCode(7, "no"), "s", 1, 2)
    )
    (pack,) = codec.Decoder().feed(encode_pack(Pack(Header(14, 1, 0, "m1"), b"x")))
    assert type(pack) is Pack and type(pack.header) is Header and type(pack.payload) is bytes
    assert pack == Pack(Header(14, 1, 0, "m1"), b"x") and hash(pack) == hash(
        Pack(Header(14, 1, 0, "m1"), b"x")
    )


@pytest.mark.parametrize("cls", NATIVE, ids=lambda c: c.__name__)
def test_native_structs_keep_the_dataclass_interface(cls: Any) -> None:
    """The classes whose __init__ is written out take the fields' names, order and defaults."""
    fields = dataclasses.fields(cls)
    params = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is dataclasses.MISSING:
            assert p.default is inspect.Parameter.empty
        else:  # a struct-valued default is None in the signature and the struct's default in the object
            assert p.default == f.default or (p.default is None and getattr(cls(), f.name) == f.default)
    if all(f.default is not dataclasses.MISSING for f in fields):
        assert cls() == cls._spec.default


STRUCT_CLASSES = [
    v
    for v in vars(codec).values()
    if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == codec.__name__
    if v not in NATIVE
]


@pytest.mark.parametrize("cls", STRUCT_CLASSES, ids=lambda c: c.__name__)
def test_fast_init_keeps_the_dataclass_interface(cls: Any) -> None:
    fields = dataclasses.fields(cls)
    assert "_set_" in cls.__init__.__code__.co_names[0]  # the replacement is in place
    params = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in params] == [f.name for f in fields]
    assert [p.default for p in params] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    values = [f"v{i}" for i in range(len(fields))]
    by_position = cls(*values)
    by_name = cls(**{f.name: v for f, v in zip(fields, values, strict=True)})
    assert by_position == by_name
    assert [getattr(by_position, f.name) for f in fields] == values
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.__init__\(\) got an unexpected keyword argument"):
        cls(nonexistent=1)
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.__init__\(\) takes"):
        cls(*values, 1)


def test_required_arguments_stay_required() -> None:
    # The wording differs between the builds (a compiled __init__ words it its own way); the name does not.
    with pytest.raises(TypeError, match=r"__init__\(\) missing .*argument.* 'pack_id'"):
        Header(1, 1, 0)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"__init__\(\) missing .*argument.* 'header'"):
        Pack()  # type: ignore[call-arg]
    assert MsgAck() == MsgAck(CommonErrorCode(0, ""), "", 0, 0)


# --------------------------------------------------------------------------------------------------------
# Encoding


def reference_frame(pack: Pack) -> bytes:
    body = codec.PACK_SPEC.encode(pack)
    return struct.pack(">I", len(body) + 4) + body


def encode_outcome(encode: Any, value: Any) -> tuple[Any, ...]:
    try:
        return ("ok", encode(value))
    except Exception as exc:
        return ("error", type(exc), str(exc))


@PROPERTY
@given(
    st.builds(
        Header,
        st.one_of(int8, int16, int32, boundaries32),
        st.one_of(int8, int16, int32, boundaries32),
        st.one_of(int8, int32, int64, st.sampled_from(BOUNDARIES), st.integers(2**63, 2**64)),
        text,
    ),
    st.one_of(st.binary(max_size=300), st.sampled_from([bytes(0x7F), bytes(0x80), bytes(0x8000)])),
)
def test_encode_pack_writes_and_refuses_as_the_generic_encoder(header: Header, payload: bytes) -> None:
    pack = Pack(header, payload)
    assert encode_outcome(encode_pack, pack) == encode_outcome(reference_frame, pack)


@PROPERTY
@given(st.one_of(error_codes, st.builds(CommonErrorCode, st.one_of(int32, int64), text)))
def test_common_error_code_encodes_as_the_generic_encoder(value: CommonErrorCode) -> None:
    assert encode_outcome(CommonErrorCode.encode, value) == encode_outcome(
        CommonErrorCode._spec.encode, value
    )


def test_ok_error_code_is_the_cached_constant() -> None:
    assert (
        CommonErrorCode(0, "").encode() == CommonErrorCode._spec.encode(CommonErrorCode()) == b"\x0c\x16\x00"
    )
    assert CommonErrorCode(codec.ErrorCode.EC_SUCCESS, "").encode() == b"\x0c\x16\x00"
    with pytest.raises(TypeError):
        CommonErrorCode(0.0, "").encode()  # type: ignore[arg-type]  # as the generic encoder: not an int


@PROPERTY
@given(
    st.integers(0, 20),
    st.one_of(int8, int16, int32, int64, st.sampled_from(BOUNDARIES), st.integers(-(2**70), 2**70)),
    st.integers(tars.T_INT1, tars.T_INT8),
)
def test_int_field_matches_its_slow_path(tag: int, v: int, max_t: int) -> None:
    assert encode_outcome(lambda x: tars.int_field(tag, x, max_t), v) == encode_outcome(
        lambda x: tars._int_field_slow(tag, x, max_t), v
    )


@PROPERTY
@given(
    st.integers(-1, 20),
    st.one_of(int8, int16, int32, int64, st.sampled_from(BOUNDARIES), st.integers(-(2**70), 2**70)),
    st.integers(tars.T_INT1, tars.T_INT8),
)
def test_put_int_writes_and_refuses_as_int_field(tag: int, v: int, max_t: int) -> None:
    """The encoders' writer of integer fields, after bytes already written."""

    def put(x: int) -> bytes:
        out = BytesWriter()
        out.write(b"head")
        tars.put_int(out, tag, x, max_t)
        return out.getvalue()

    assert encode_outcome(put, v) == encode_outcome(lambda x: b"head" + tars.int_field(tag, x, max_t), v)


@PROPERTY
@given(st.integers(-1, 20), st.one_of(st.binary(max_size=300), st.sampled_from([bytes(255), bytes(256)])))
def test_put_string_writes_and_refuses_as_string_prefix(tag: int, data: bytes) -> None:
    def put(x: bytes) -> bytes:
        out = BytesWriter()
        tars.put_string(out, tag, x)
        return out.getvalue()

    assert encode_outcome(put, data) == encode_outcome(lambda x: tars.string_prefix(tag, len(x)) + x, data)


def test_wide_int_field_with_a_negative_tag_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="cannot be encoded"):
        tars.int_field(-1, 1000)


def test_a_frame_the_fast_path_declines_is_decoded_generically() -> None:
    body = bytes.fromhex("0a000e10012c36026d310b1d00") + bytes.fromhex("0200000003") + b"abc"  # INT4 length
    frame = struct.pack(">I", len(body) + 4) + body
    assert codec._decode_pack_fast(frame, 4, len(frame)) is None
    (pack,) = codec.Decoder().feed(frame)
    assert pack == Pack(Header(14, 1, 0, "m1"), b"abc")
