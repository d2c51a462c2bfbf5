"""Protocol Buffers wire primitives for the hand-written fast paths of the hottest bodies.

The protobuf runtime stays the judge of every body. A fast decoder built on these accepts only the
canonical layout a protobuf library writes (known fields in ascending number, each once, with one-byte
keys and minimal varints) and returns None for anything else, bad input included, which the runtime then
parses: its errors and its lenient forms stay its own. A fast encoder writes what the runtime's
``SerializeToString`` writes for the same fields, byte for byte; property tests hold both to the runtime.

Why: a message object of the runtime costs a call per field read or set and an allocation per object,
and the hot messages (imlc's Message and SendAck) were a third of their protocol's loop. Appending to a
bytearray and indexing bytes compile to native code under mypyc.
"""

from __future__ import annotations

from typing import Final

#: Wire types (the low three bits of a key).
VARINT: Final = 0
LEN: Final = 2

_U64: Final = 1 << 64
_LOW42: Final = (1 << 42) - 1


class NotCanonical(Exception):
    """The bytes are not the canonical layout the fast decoder reads: the runtime must judge them."""


#: What a fast decoder catches to hand a body to the runtime: an index past the end, text that is not
#: UTF-8, a layout that is not canonical.
FAST_MISS: Final = (IndexError, UnicodeDecodeError, NotCanonical)


def key(number: int, wire_type: int) -> int:
    """The one-byte key of field ``number`` (1–15)."""
    return number << 3 | wire_type


#: A body being written: its pieces in order, joined once by the encoder (``b"".join``). Appending to a
#: list is native code under mypyc; ``+=`` on a bytearray went through the number protocol and the buffer
#: protocol, ~340 instructions a piece (callgrind), two to three pieces a field.
Parts = list[bytes]

# _SMALL[key][value] is the whole field of a one-byte VARINT or LEN key (``key & 5 == 0``: wire types 0
# and 2 alone have bits 0 and 2 clear) and a value under 128: a lookup, where a varint built in an
# integer costs its boxing and ``int.to_bytes`` (~400 instructions).
_SMALL: Final = tuple(tuple(bytes((k, v)) for v in range(0x80)) if k & 5 == 0 else () for k in range(0x80))


def put_field(out: Parts, field_key: int, value: int) -> None:
    """A varint field, left out when zero (proto3: a scalar at its default is not written)."""
    if value:
        put_required(out, field_key, value)


def put_required(out: Parts, field_key: int, value: int) -> None:
    """A varint field, written even when zero (proto2: a required field)."""
    if 0 <= value < 0x80 and field_key < 0x80 and field_key & 5 == 0:
        out.append(_SMALL[field_key][value])
    else:
        out.append(_varint(value, field_key, 8))


def put_bytes(out: Parts, field_key: int, data: bytes) -> None:
    """A length-delimited field, written even when empty (a repeated element, a present sub-message)."""
    put_required(out, field_key, len(data))
    out.append(data)


def put_text(out: Parts, field_key: int, text: str) -> None:
    """A string field, left out when empty."""
    if text:
        put_bytes(out, field_key, text.encode())


def _varint(value: int, packed: int, shift: int) -> bytes:
    """The ``shift`` bits of ``packed`` (a key, or nothing), then ``value`` as a varint, as bytes. Built
    in an integer and converted once: appending byte by byte to a bytearray is a method call each, and
    took twice as long."""
    if value < 0:
        value += _U64
    if value >> 42:
        # Over 42 bits (a message id: 63 bits), the value is a boxed integer under mypyc, each operation
        # on it an allocation: it is split once, and the loops run on the halves.
        return _groups6(value & _LOW42, packed, shift) + _varint(value >> 42, 0, 0)
    while value > 0x7F:
        packed |= (value & 0x7F | 0x80) << shift
        value >>= 7
        shift += 8
    packed |= value << shift
    return packed.to_bytes(shift // 8 + 1, "little")


def _groups6(low: int, packed: int, shift: int) -> bytes:
    """The 42 bits of ``low`` as six varint groups, each with its continuation bit, after ``packed``."""
    for _ in range(6):
        packed |= (low & 0x7F | 0x80) << shift
        low >>= 7
        shift += 8
    return packed.to_bytes(shift // 8, "little")


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
