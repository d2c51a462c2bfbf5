"""Tars (JCE) binary encoding exactly as TarsCpp writes and accepts it (omtp.md §3).

The module is schema driven: a :class:`StructSpec` lists a struct's fields once, as
``(tag, name, kind, required)``, and both directions are generic over it.

Decoding walks a struct once.  Every field head is looked up in the spec's tag table: a known tag is read
by its :class:`Kind`, which applies the TarsCpp acceptance rules of §3.3 (a ``short`` takes ZERO/INT1/INT2
only, a string must be valid UTF-8, ...); an unknown tag is skipped structurally (§3.9).  A tag seen twice
in one struct is an error, so the table never has to pick a winner.  Fields may arrive in any order.

Every length and count is checked against the bytes left before it is used, so a hostile buffer can
neither make the decoder read past its end nor announce more elements than it has bytes, and nesting stops
at :data:`MAX_DEPTH` (which also bounds recursion).  Decoding raises :class:`TarsDecodeError` and nothing else for bad input.

Encoding narrows integers to the smallest form (§3.3), omits optional fields equal to their default and
always writes require fields, optional structs and optional enums (§3.8).  Writing a value that does not
fit its declared width is the caller's bug and raises :class:`ValueError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final

from librt.strings import BytesWriter, write_i16_be, write_i32_be, write_i64_be
from mypy_extensions import i16, i32, i64, u8

from polyim.protocols.base import ProtocolError

T_INT1: Final = 0
T_INT2: Final = 1
T_INT4: Final = 2
T_INT8: Final = 3
T_FLOAT: Final = 4
T_DOUBLE: Final = 5
T_STRING1: Final = 6
T_STRING4: Final = 7
T_MAP: Final = 8
T_LIST: Final = 9
T_STRUCT_BEGIN: Final = 10
T_STRUCT_END: Final = 11
T_ZERO_TAG: Final = 12
T_SIMPLE_LIST: Final = 13

MAX_DEPTH: Final = 16
"""Structs, lists and maps nested inside the bare top-level struct (omtp.md §3.8; OMTP needs 5)."""

Buf = bytes | bytearray

_TYPE_NAMES: Final = (
    "INT1",
    "INT2",
    "INT4",
    "INT8",
    "FLOAT",
    "DOUBLE",
    "STRING1",
    "STRING4",
    "MAP",
    "LIST",
    "STRUCT_BEGIN",
    "STRUCT_END",
    "ZERO_TAG",
    "SIMPLE_LIST",
    "type 14",
    "type 15",
)

_I8: Final = struct.Struct(">b")
_I16: Final = struct.Struct(">h")
_I32: Final = struct.Struct(">i")
_I64: Final = struct.Struct(">q")
_U32: Final = struct.Struct(">I")
_F32: Final = struct.Struct(">f")
_F64: Final = struct.Struct(">d")

# Indexed by type id INT1..DOUBLE: payload size, and the unpacker of the integer types.
_SIZE: Final = (1, 2, 4, 8, 4, 8)
_UNPACK_INT: Final = (_I8.unpack_from, _I16.unpack_from, _I32.unpack_from, _I64.unpack_from)
_PACK_INT: Final = (_I8.pack, _I16.pack, _I32.pack, _I64.pack)
_WIDTH_NAMES: Final = ("byte", "short", "int", "long")


class TarsDecodeError(ProtocolError):
    """The bytes are not a valid Tars encoding of the expected struct."""


def _truncated(pos: int, what: str) -> TarsDecodeError:
    return TarsDecodeError(f"truncated at offset {pos}: {what}")


def _mismatch(t: int, expected: str, pos: int) -> TarsDecodeError:
    return TarsDecodeError(f"type {_TYPE_NAMES[t]} cannot be read as {expected} at offset {pos}")


def _too_deep(pos: int) -> TarsDecodeError:
    return TarsDecodeError(f"nesting deeper than {MAX_DEPTH} at offset {pos}")


# --------------------------------------------------------------------------------------------------------
# Writing primitives.  Heads and small integers are looked up, not computed: they are on every hot path.


def _head_bytes(tag: int, t: int) -> bytes:
    if not 0 <= tag <= 255:
        raise ValueError(f"tag {tag} cannot be encoded (0..255)")
    return bytes(((tag << 4) | t,)) if tag < 15 else bytes((0xF0 | t, tag))


def _narrow(v: int) -> int:
    """The smallest integer type id that holds ``v`` (ZERO_TAG for 0); ValueError beyond int64."""
    if v == 0:
        return T_ZERO_TAG
    if -0x80 <= v <= 0x7F:
        return T_INT1
    if -0x8000 <= v <= 0x7FFF:
        return T_INT2
    if -0x8000_0000 <= v <= 0x7FFF_FFFF:
        return T_INT4
    if -0x8000_0000_0000_0000 <= v <= 0x7FFF_FFFF_FFFF_FFFF:
        return T_INT8
    raise ValueError(f"{v} does not fit a Tars long")


def _int_field_slow(tag: int, v: int, max_t: int) -> bytes:
    t = _narrow(v)
    if t == T_ZERO_TAG:
        return _head_bytes(tag, T_ZERO_TAG)
    if t > max_t:
        raise ValueError(f"{v} does not fit a Tars {_WIDTH_NAMES[max_t]}")
    return _head_bytes(tag, t) + _PACK_INT[t](v)


# _SMALL_INT[tag][v & 0xFF] is the whole field for -128 <= v <= 127 and tag < 15.
_SMALL_INT: Final = tuple(
    tuple(_int_field_slow(tag, v - 256 if v > 127 else v, T_INT1) for v in range(256)) for tag in range(15)
)
# _STR1_PREFIX[tag][n] is the head and length byte of a STRING1 of n bytes, tag < 15.
_STR1_PREFIX: Final = tuple(
    tuple(bytes(((tag << 4) | T_STRING1, n)) for n in range(256)) for tag in range(15)
)


# _HEADED_INT[t](head, v) is the whole field of integer type ``t`` (INT1…INT8) with a one-byte head.
_HEADED_INT: Final = tuple(struct.Struct(">B" + code).pack for code in "bhiq")

STRING1_PREFIX: Final = _STR1_PREFIX
"""``STRING1_PREFIX[tag][n]`` is ``string_prefix(tag, n)`` for 0 <= n < 256 and 0 <= tag < 15."""


def int_field(tag: int, v: int, max_t: int = T_INT8) -> bytes:
    """One integer field at ``tag`` (0..255), narrowed (§3.3); ``max_t`` is the declared width (INT1 byte …
    INT8 long).  Hand-written encoders of hot structs build on this and :func:`string_prefix`."""
    if -0x80 <= v <= 0x7F:
        if tag < 15:
            return _SMALL_INT[tag][v & 0xFF]
    elif 0 <= tag < 15 and (
        # The first range holds every id and timestamp, and its bounds are small ints to mypyc (tagged,
        # compared inline); the long's own bounds are not, and are compared only for what is left.
        -0x4000_0000_0000_0000 <= v <= 0x3FFF_FFFF_FFFF_FFFF
        or -0x8000_0000_0000_0000 <= v <= 0x7FFF_FFFF_FFFF_FFFF
    ):
        # What _int_field_slow writes, in one pack (it alone raises, for a value wider than max_t).
        t = T_INT2 if -0x8000 <= v <= 0x7FFF else T_INT4 if -0x8000_0000 <= v <= 0x7FFF_FFFF else T_INT8
        if t <= max_t:
            return _HEADED_INT[t]((tag << 4) | t, v)
    return _int_field_slow(tag, v, max_t)


def string_prefix(tag: int, n: int) -> bytes:
    """Head and length of a string field of ``n`` bytes: STRING1 up to 255, else STRING4 (§3.4)."""
    if n < 256:
        if tag < 15:
            return _STR1_PREFIX[tag][n]
        return _head_bytes(tag, T_STRING1) + bytes((n,))
    return _head_bytes(tag, T_STRING4) + _U32.pack(n)


def put_int(out: BytesWriter, tag: int, v: int, max_t: int = T_INT8) -> None:
    """:func:`int_field` written into ``out``: under mypyc the head and the big-endian value are native
    stores, where ``int_field`` packed the wider ones with ``struct`` (a call and a new ``bytes``). Anything
    outside its fast ranges (a tag over 14, a value beyond a long or wider than ``max_t``) is
    ``int_field``'s, which writes it or raises its own error."""
    try:
        x = i64(v)
    except (ValueError, OverflowError):  # compiled only (as Python, the last test below checks)
        out.write(int_field(tag, v, max_t))
        return
    if not 0 <= tag < 15:
        out.write(int_field(tag, v, max_t))
    elif x == 0:
        out.append(u8(tag << 4 | T_ZERO_TAG))
    elif -0x80 <= x <= 0x7F:
        out.append(u8(tag << 4 | T_INT1))
        out.append(u8(x & 0xFF))
    elif -0x8000 <= x <= 0x7FFF and max_t >= T_INT2:
        out.append(u8(tag << 4 | T_INT2))
        write_i16_be(out, i16(x))
    elif -0x8000_0000 <= x <= 0x7FFF_FFFF and max_t >= T_INT4:
        out.append(u8(tag << 4 | T_INT4))
        write_i32_be(out, i32(x))
    elif max_t >= T_INT8 and -0x8000_0000_0000_0000 <= x <= 0x7FFF_FFFF_FFFF_FFFF:  # native when compiled
        out.append(u8(tag << 4 | T_INT8))
        write_i64_be(out, x)
    else:
        out.write(int_field(tag, v, max_t))


def put_string(out: BytesWriter, tag: int, data: bytes) -> None:
    """A string field (:func:`string_prefix` and ``data``) written into ``out``."""
    n = len(data)
    if n < 256 and 0 <= tag < 15:
        out.append(u8(tag << 4 | T_STRING1))
        out.append(u8(n))
    else:
        out.write(string_prefix(tag, n))
    out.write(data)


# --------------------------------------------------------------------------------------------------------
# Reading primitives.  ``buf[pos:end]`` is the readable window; every read checks it first.


def _head(buf: Buf, pos: int, end: int) -> tuple[int, int, int]:
    """One field head: ``(tag, type id, position after the head)``."""
    if pos >= end:
        raise _truncated(pos, "field head expected")
    b = buf[pos]
    if b < 0xF0:
        return b >> 4, b & 0x0F, pos + 1
    if pos + 1 >= end:
        raise _truncated(pos, "second byte of a field head expected")
    return buf[pos + 1], b & 0x0F, pos + 2


def _read_int(buf: Buf, pos: int, end: int, t: int, max_t: int, expected: str) -> tuple[int, int]:
    """An integer value of type ``t``, which may be no wider than ``max_t`` (the TarsCpp rule, §3.3)."""
    if t == T_ZERO_TAG:
        return 0, pos
    if t > max_t:
        raise _mismatch(t, expected, pos)
    stop = pos + _SIZE[t]
    if stop > end:
        raise _truncated(pos, f"{_TYPE_NAMES[t]} value")
    return _UNPACK_INT[t](buf, pos)[0], stop


def _read_count(buf: Buf, pos: int, end: int, unit: int) -> tuple[int, int]:
    """A count or length (integer field, tag 0, up to int); at least ``unit`` bytes each must remain."""
    tag, t, pos = _head(buf, pos, end)
    if tag != 0:
        raise TarsDecodeError(f"count must have tag 0, got tag {tag} at offset {pos}")
    n, pos = _read_int(buf, pos, end, t, T_INT4, "a count")
    if n < 0 or n * unit > end - pos:
        raise TarsDecodeError(f"count {n} exceeds the {end - pos} bytes left at offset {pos}")
    return n, pos


def _skip(buf: Buf, pos: int, end: int, t: int, depth: int) -> int:
    """Skip the value of a field whose head (type ``t``) was just read (§3.9); returns the new position."""
    if t <= T_DOUBLE:
        pos += _SIZE[t]
    elif t == T_STRING1:
        if pos >= end:
            raise _truncated(pos, "string length")
        pos += 1 + buf[pos]
    elif t == T_STRING4:
        if pos + 4 > end:
            raise _truncated(pos, "string length")
        pos += 4 + _U32.unpack_from(buf, pos)[0]
    elif t in (T_ZERO_TAG, T_STRUCT_END):
        return pos
    elif t in (T_LIST, T_MAP):
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        n, pos = _read_count(buf, pos, end, 1 if t == T_LIST else 2)
        for _ in range(n if t == T_LIST else 2 * n):
            _, ft, pos = _head(buf, pos, end)
            pos = _skip(buf, pos, end, ft, depth + 1)
    elif t == T_STRUCT_BEGIN:
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        while True:
            _, ft, pos = _head(buf, pos, end)
            if ft == T_STRUCT_END:
                break
            pos = _skip(buf, pos, end, ft, depth + 1)
    elif t == T_SIMPLE_LIST:
        _, _, pos = _head(buf, pos, end)
        n, pos = _read_count(buf, pos, end, 1)
        pos += n
    else:
        raise TarsDecodeError(f"invalid type id {t} at offset {pos}")
    if pos > end:
        raise _truncated(end, f"{_TYPE_NAMES[t]} value")
    return pos


# --------------------------------------------------------------------------------------------------------
# Kinds: what a field's declared IDL type reads and writes.


class Kind:
    """A declared IDL type.

    ``read`` gets the type id of the head just read and returns ``(value, next position)``; ``depth`` is the
    nesting depth of the struct holding the field.  ``write`` appends a whole field (head and value).
    """

    __slots__ = ("default", "name", "omittable")

    def __init__(self, name: str, default: Any, *, omittable: bool = True) -> None:
        self.name = name
        self.default = default
        # Optional fields of this kind are left out when equal to their default (§3.8).
        self.omittable = omittable

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        raise NotImplementedError

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Tars {self.name}>"


class IntKind(Kind):
    """bool/byte/short/int/long and enums: written narrowed, read up to the declared width only."""

    __slots__ = ("max_t",)

    def __init__(self, name: str, max_t: int, *, omittable: bool = True) -> None:
        super().__init__(name, 0, omittable=omittable)
        self.max_t = max_t

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        return _read_int(buf, pos, end, t, self.max_t, self.name)

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += int_field(tag, value, self.max_t)


class BoolKind(IntKind):
    """TarsCpp reads a bool as a byte and takes any non-zero value as true."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("bool", T_INT1)
        self.default = False

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        value, pos = super().read(buf, pos, end, t, depth)
        return value != 0, pos

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += int_field(tag, 1 if value else 0, T_INT1)


class FloatKind(Kind):
    """float (FLOAT on the wire, even for 0.0) or double (DOUBLE); input may also be ZERO_TAG (§3.3)."""

    __slots__ = ("_codec", "_t")

    def __init__(self, name: str, t: int) -> None:
        super().__init__(name, 0.0)
        self._t = t
        self._codec = _F32 if t == T_FLOAT else _F64

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t == T_ZERO_TAG:
            return 0.0, pos
        if t != T_FLOAT and t != self._t:
            raise _mismatch(t, self.name, pos)
        stop = pos + _SIZE[t]
        if stop > end:
            raise _truncated(pos, f"{_TYPE_NAMES[t]} value")
        return (_F32 if t == T_FLOAT else _F64).unpack_from(buf, pos)[0], stop

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += _head_bytes(tag, self._t)
        out += self._codec.pack(value)


class StringKind(Kind):
    """string: STRING1 or STRING4 whatever the length on input; the bytes must be valid UTF-8."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("string", "")

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t == T_STRING1:
            if pos >= end:
                raise _truncated(pos, "string length")
            stop = pos + 1 + buf[pos]
            pos += 1
        elif t == T_STRING4:
            if pos + 4 > end:
                raise _truncated(pos, "string length")
            stop = pos + 4 + _U32.unpack_from(buf, pos)[0]
            pos += 4
        else:
            raise _mismatch(t, "string", pos)
        if stop > end:
            raise _truncated(pos, f"string of {stop - pos} bytes")
        try:
            return buf[pos:stop].decode(), stop
        except UnicodeDecodeError as exc:
            raise TarsDecodeError(f"string at offset {pos} is not valid UTF-8: {exc.reason}") from None

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        data = value.encode()
        out += string_prefix(tag, len(data))
        out += data


class BytesKind(Kind):
    """vector<byte>: written as SIMPLE_LIST; read from SIMPLE_LIST or a LIST of bytes (§3.5)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("vector<byte>", b"")

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t == T_SIMPLE_LIST:
            _, et, pos = _head(buf, pos, end)
            if et != T_INT1:
                raise _mismatch(et, "the element type of a SIMPLE_LIST (INT1)", pos)
            n, pos = _read_count(buf, pos, end, 1)
            return bytes(buf[pos : pos + n]), pos + n
        if t != T_LIST:
            raise _mismatch(t, self.name, pos)
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        n, pos = _read_count(buf, pos, end, 1)
        # Nearly always every element is "00 xx" (tag 0, INT1); check that in bulk, else go one by one.
        pairs = buf[pos : pos + 2 * n]
        if len(pairs) == 2 * n and pairs[0::2].count(0) == n:
            return bytes(pairs[1::2]), pos + 2 * n
        out = bytearray()
        for _ in range(n):
            tag, et, pos = _head(buf, pos, end)
            if tag != 0:
                raise TarsDecodeError(f"list element must have tag 0, got {tag} at offset {pos}")
            value, pos = _read_int(buf, pos, end, et, T_INT1, "byte")
            out.append(value & 0xFF)
        return bytes(out), pos

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += _head_bytes(tag, T_SIMPLE_LIST)
        out.append(0)  # element type head: tag 0, INT1
        out += int_field(0, len(value), T_INT4)
        out += value


class ListKind(Kind):
    """vector<T> other than bytes: a count, then each element as a field with tag 0. Decodes to a tuple."""

    __slots__ = ("elem",)

    def __init__(self, elem: Kind) -> None:
        super().__init__(f"vector<{elem.name}>", ())
        self.elem = elem

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t != T_LIST:
            raise _mismatch(t, self.name, pos)
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        n, pos = _read_count(buf, pos, end, 1)
        read = self.elem.read
        items = []
        for _ in range(n):
            tag, et, pos = _head(buf, pos, end)
            if tag != 0:
                raise TarsDecodeError(f"list element must have tag 0, got {tag} at offset {pos}")
            value, pos = read(buf, pos, end, et, depth + 1)
            items.append(value)
        return tuple(items), pos

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += _head_bytes(tag, T_LIST)
        out += int_field(0, len(value), T_INT4)
        write = self.elem.write
        for item in value:
            write(out, 0, item)


class MapKind(Kind):
    """map<K,V>: a count, then key (tag 0) and value (tag 1) per entry, written in ascending key order."""

    __slots__ = ("key", "value")

    def __init__(self, key: Kind, value: Kind) -> None:
        super().__init__(f"map<{key.name},{value.name}>", MappingProxyType({}))  # a shared default: read-only
        self.key = key
        self.value = value

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t != T_MAP:
            raise _mismatch(t, self.name, pos)
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        n, pos = _read_count(buf, pos, end, 2)
        result = {}
        for _ in range(n):
            tag, kt, pos = _head(buf, pos, end)
            if tag != 0:
                raise TarsDecodeError(f"map key must have tag 0, got {tag} at offset {pos}")
            key, pos = self.key.read(buf, pos, end, kt, depth + 1)
            tag, vt, pos = _head(buf, pos, end)
            if tag != 1:
                raise TarsDecodeError(f"map value must have tag 1, got {tag} at offset {pos}")
            result[key], pos = self.value.read(buf, pos, end, vt, depth + 1)
        return result, pos

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += _head_bytes(tag, T_MAP)
        out += int_field(0, len(value), T_INT4)
        for key in sorted(value):
            self.key.write(out, 0, key)
            self.value.write(out, 1, value[key])


class StructKind(Kind):
    """A nested struct (STRUCT_BEGIN … STRUCT_END).

    ``alt`` lets a field also accept another wire type in its place and convert it (omtp.md §3.8: where the
    seed's IDL declares a string or an int instead of the struct).  Never omitted when optional (§3.8).
    """

    __slots__ = ("_default_body", "alt", "convert", "spec")

    def __init__(
        self, spec: StructSpec, alt: Kind | None = None, convert: Callable[[Any], Any] | None = None
    ) -> None:
        super().__init__(spec.name, spec.default, omittable=False)
        self.spec = spec
        self.alt = alt
        self.convert = convert
        # The commonest nested values are defaults (an empty PushInfo, errorCode {0, ""}): when the struct
        # has no containers (so no depth to check), its default's exact bytes are recognised in one compare
        # and yield one shared frozen instance.
        scalar = all(isinstance(f.kind, (IntKind, FloatKind, StringKind)) for f in spec.fields)
        self._default_body = spec.encode(spec.default) + bytes((T_STRUCT_END,)) if scalar else None

    def read(self, buf: Buf, pos: int, end: int, t: int, depth: int) -> tuple[Any, int]:
        if t != T_STRUCT_BEGIN:
            if self.alt is not None and self.convert is not None:
                value, pos = self.alt.read(buf, pos, end, t, depth)
                return self.convert(value), pos
            raise _mismatch(t, self.name, pos)
        if depth >= MAX_DEPTH:
            raise _too_deep(pos)
        body = self._default_body
        if body is not None:
            stop = pos + len(body)
            if stop <= end and buf[pos:stop] == body:
                return self.default, stop
        spec = self.spec
        values, pos = spec.read_fields(buf, pos, end, depth + 1, nested=True)
        return spec.build(*values), pos

    def write(self, out: bytearray, tag: int, value: Any) -> None:
        out += _head_bytes(tag, T_STRUCT_BEGIN)
        self.spec.write_fields(out, value)
        out.append(T_STRUCT_END)  # STRUCT_END is always written with tag 0


BOOL: Final = BoolKind()
BYTE: Final = IntKind("byte", T_INT1)
SHORT: Final = IntKind("short", T_INT2)
INT: Final = IntKind("int", T_INT4)
LONG: Final = IntKind("long", T_INT8)
ENUM: Final = IntKind("int", T_INT4, omittable=False)
"""An enum is an int on the wire, but TarsCpp writes an optional enum field even when it is 0 (§3.8)."""
FLOAT: Final = FloatKind("float", T_FLOAT)
DOUBLE: Final = FloatKind("double", T_DOUBLE)
STRING: Final = StringKind()
BYTES: Final = BytesKind()

# How an optional field is left out: never, when falsy (its default is the kind's zero), or when equal to
# an explicit IDL default.
_KEEP: Final = 0
_OMIT_FALSY: Final = 1
_OMIT_EQUAL: Final = 2


class Field:
    """One struct member: tag, Python attribute name, kind, require/optional and an explicit IDL default.

    ``default`` is the IDL's ``= N`` (None when the IDL gives none; IDL defaults are never null).  A require
    field with an explicit default takes it when missing on input instead of failing (omtp.md §3.8).
    """

    __slots__ = ("default", "explicit_default", "kind", "name", "omit", "required", "tag")

    def __init__(self, tag: int, name: str, kind: Kind, required: bool, default: Any = None) -> None:
        if not 0 <= tag <= 255:
            raise ValueError(f"tag {tag} cannot be encoded (0..255)")
        self.tag = tag
        self.name = name
        self.kind = kind
        self.required = required
        self.explicit_default = default is not None
        self.default = kind.default if default is None else default
        if required or not kind.omittable:
            self.omit = _KEEP
        else:
            self.omit = _OMIT_EQUAL if self.explicit_default else _OMIT_FALSY


class StructSpec:
    """A struct's fields (any order given, kept by ascending tag) and how to build a value from them.

    ``build`` is called with the field values positionally in tag order (a dataclass whose leading fields
    are these, or any callable).  Encoding reads the values back by attribute name.
    """

    __slots__ = ("_get", "_required_mask", "_table", "build", "default", "defaults", "fields", "name")

    def __init__(self, name: str, fields: Sequence[Field], build: Callable[..., Any]) -> None:
        ordered = sorted(fields, key=lambda f: f.tag)
        tags = [f.tag for f in ordered]
        if len(set(tags)) != len(tags):
            raise ValueError(f"{name}: duplicate tags {tags}")
        self.name = name
        self.fields = tuple(ordered)
        self.build = build
        # tag -> (position in ``fields``, the kind's read, whether that is StringKind.read); None if unknown
        table: list[tuple[int, Callable[..., tuple[Any, int]], bool] | None] = [None] * 256
        for i, f in enumerate(ordered):
            table[f.tag] = (i, f.kind.read, isinstance(f.kind, StringKind))
        self._table = tuple(table)
        self._required_mask = sum(1 << f.tag for f in ordered if f.required and not f.explicit_default)
        self.defaults = [f.default for f in ordered]
        self.default = build(*self.defaults)
        names = [f.name for f in ordered]
        if len(names) == 1:
            one = attrgetter(names[0])
            self._get: Callable[[Any], tuple[Any, ...]] = lambda obj: (one(obj),)
        else:
            self._get = attrgetter(*names)

    def encode(self, obj: Any) -> bytes:
        """``obj`` as a bare struct (§3.7): its fields only, no STRUCT_BEGIN/END."""
        out = bytearray()
        self.write_fields(out, obj)
        return bytes(out)

    def write_fields(self, out: bytearray, obj: Any) -> None:
        for f, value in zip(self.fields, self._get(obj), strict=True):
            omit = f.omit
            if omit and (not value if omit == _OMIT_FALSY else value == f.default):
                continue
            f.kind.write(out, f.tag, value)

    def decode(self, buf: Buf, pos: int = 0, end: int | None = None) -> Any:
        """Build a value from the bare struct in ``buf[pos:end]``, which must hold nothing else."""
        values, _ = self.read_fields(buf, pos, len(buf) if end is None else end, 0, nested=False)
        return self.build(*values)

    def read_fields(self, buf: Buf, pos: int, end: int, depth: int, *, nested: bool) -> tuple[list[Any], int]:
        """Read fields up to STRUCT_END (consumed) if ``nested``, else up to ``end``; values in tag order."""
        values = self.defaults.copy()
        table = self._table
        seen = 0
        while pos < end:
            b = buf[pos]
            pos += 1
            tag = b >> 4
            t = b & 0x0F
            if tag == 15:
                if pos >= end:
                    raise _truncated(pos, "second byte of a field head expected")
                tag = buf[pos]
                pos += 1
            if t == T_STRUCT_END:
                if nested:
                    break
                raise TarsDecodeError(f"STRUCT_END outside a struct at offset {pos - 1}")
            bit = 1 << tag
            if seen & bit:
                raise TarsDecodeError(f"{self.name}: tag {tag} repeated at offset {pos - 1}")
            seen |= bit
            slot = table[tag]
            if slot is None:
                pos = _skip(buf, pos, end, t, depth)
            elif slot[2] and t == T_STRING1 and pos < end:
                # StringKind.read inlined for its commonest form: most fields of OMTP are short strings.
                stop = pos + 1 + buf[pos]
                if stop > end:
                    raise _truncated(pos, f"string of {stop - pos - 1} bytes")
                try:
                    values[slot[0]] = buf[pos + 1 : stop].decode()
                except UnicodeDecodeError as exc:
                    raise TarsDecodeError(
                        f"string at offset {pos + 1} is not valid UTF-8: {exc.reason}"
                    ) from None
                pos = stop
            else:
                values[slot[0]], pos = slot[1](buf, pos, end, t, depth)
        else:
            if nested:
                raise _truncated(pos, f"{self.name}: STRUCT_END expected")
        if seen & self._required_mask != self._required_mask:
            missing = [f.name for f in self.fields if (self._required_mask & ~seen) >> f.tag & 1]
            raise TarsDecodeError(f"{self.name}: require field(s) {', '.join(missing)} missing")
        return values, pos
