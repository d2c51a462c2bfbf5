"""Protocol Buffers wire primitives for the hand-written fast paths of the hottest bodies.

The protobuf runtime stays the judge of every body. A fast decoder built on these accepts only the
canonical layout a protobuf library writes (known fields in ascending number, each once, with one-byte
keys and minimal varints) and returns None for anything else, bad input included, which the runtime then
parses: its errors and its lenient forms stay its own. A fast encoder writes what the runtime's
``SerializeToString`` writes for the same fields, byte for byte; property tests hold both to the runtime.

Why: a message object of the runtime costs a call per field read or set and an allocation per object,
and the hot messages (imlc's Message and SendAck) were a third of their protocol's loop. Bodies are written
into a ``librt.strings.BytesWriter`` (mypyc's own growable buffer: its ``append`` and ``write`` compile
to native stores, a plain C-extension class when the package runs as Python), and read by indexing
``bytes``, which compiles to native code too.
"""

from __future__ import annotations

from typing import Final

from librt.strings import BytesWriter
from mypy_extensions import i64, u8

#: Wire types (the low three bits of a key).
VARINT: Final = 0
LEN: Final = 2

_U64: Final = 1 << 64


class NotCanonical(Exception):
    """The bytes are not the canonical layout the fast decoder reads: the runtime must judge them."""


#: What a fast decoder catches to hand a body to the runtime: an index past the end, text that is not
#: UTF-8, a layout that is not canonical.
FAST_MISS: Final = (IndexError, UnicodeDecodeError, NotCanonical)


def key(number: int, wire_type: int) -> int:
    """The one-byte key of field ``number`` (1–15)."""
    return number << 3 | wire_type


def put_field(out: BytesWriter, field_key: int, value: int) -> None:
    """A varint field, left out when zero (proto3: a scalar at its default is not written)."""
    if value:
        put_required(out, field_key, value)


def put_required(out: BytesWriter, field_key: int, value: int) -> None:
    """A varint field, written even when zero (proto2: a required field). ``field_key`` is one byte
    (:func:`key`); ``value`` an int64 or a uint64 (an int32's negatives are an int64's, as the runtime
    writes them)."""
    out.append(u8(field_key))
    try:
        bits = i64(value)
    except (ValueError, OverflowError):  # compiled only (mypyc raises ValueError): a uint64 over 2**63,
        # written as the int64 of the same 64 bits
        bits = i64(value - _U64)
    _varint(out, bits)


def put_bytes(out: BytesWriter, field_key: int, data: bytes) -> None:
    """A length-delimited field, written even when empty (a repeated element, a present sub-message)."""
    put_required(out, field_key, len(data))
    out.write(data)


def put_text(out: BytesWriter, field_key: int, text: str) -> None:
    """A string field, left out when empty."""
    if text:
        put_bytes(out, field_key, text.encode())


def _varint(out: BytesWriter, value: i64) -> None:
    """``value`` as a varint of its 64 bits: a negative one (or a uint64 over 2**63, passed as the int64
    of the same bits) is ten bytes. Under mypyc ``i64`` is a machine integer and ``append`` a native
    store: a field costs tens of instructions, where building the varint in an ``int`` and converting it
    with ``int.to_bytes`` (which boxes it) cost ~1,100, the most of any step of imlc's and beehive's
    encoders (callgrind)."""
    if value < 0:
        for _ in range(9):
            out.append(u8(value & 0x7F | 0x80))
            value = (value >> 7) & 0x01FF_FFFF_FFFF_FFFF  # a logical shift of the 64 bits
        out.append(u8(value))
        return
    while value > 0x7F:
        out.append(u8(value & 0x7F | 0x80))
        value >>= 7
    out.append(u8(value))


def varint_at(buf: bytes, p: int) -> tuple[int, int]:
    """The minimal varint of at most 64 bits at ``p``, and the position after it. A padded or longer one
    raises :class:`NotCanonical`; one cut by the end of ``buf``, IndexError."""
    b = buf[p]
    if b < 0x80:
        return b, p + 1
    value = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = buf[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise NotCanonical
    if b == 0 or value >= _U64:
        raise NotCanonical
    return value, p


def span_at(buf: bytes, p: int, end: int) -> tuple[int, int]:
    """The bounds of the length-delimited payload whose length is at ``p``; IndexError past ``end``."""
    n, p = varint_at(buf, p)
    stop = p + n
    if stop > end:
        raise IndexError
    return p, stop


def int32_of(value: int) -> int:
    """A varint read as an int32 or enum field. Only the canonical forms are taken: a non-negative value
    under 2**31, or a negative one in ten bytes; anything else the runtime truncates, and judges."""
    if value < 0x8000_0000:
        return value
    if value >= _U64 - 0x8000_0000:
        return value - _U64
    raise NotCanonical


def uint32_of(value: int) -> int:
    """A varint read as a uint32 field (only values that fit: the runtime truncates the others)."""
    if value > 0xFFFF_FFFF:
        raise NotCanonical
    return value


def int64_of(value: int) -> int:
    """A varint read as an int64 field."""
    return value - _U64 if value >= 1 << 63 else value


def varint_field(buf: bytes, p: int, field_key: int) -> tuple[int, int]:
    """The varint of the field at ``p``, which must be ``field_key``'s, and the position after it."""
    if buf[p] != field_key:
        raise NotCanonical
    return varint_at(buf, p + 1)


def span_field(buf: bytes, p: int, end: int, field_key: int) -> tuple[int, int]:
    """The bounds of the length-delimited field at ``p``, which must be ``field_key``'s; IndexError past
    ``end``."""
    if buf[p] != field_key:
        raise NotCanonical
    return span_at(buf, p + 1, end)
