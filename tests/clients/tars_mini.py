"""A small, schema-less Tars (JCE) encoder/decoder written from omtp.md §3.

Independent of ``polyim``: used by the OMTP test client to check the server's codec.

Writing: :class:`TarsWriter` appends fields (narrowed integers, strings, SIMPLE_LIST bytes,
lists, maps, nested structs) to a buffer; the caller writes the fields in ascending tag order and
decides which optional fields to omit (§3.8).

Reading: :func:`decode_struct` parses a *bare* struct (§3.7) into a ``tag -> value`` table:

* integers (INT1/2/4/8 and ZERO_TAG) -> ``int``; FLOAT/DOUBLE -> ``float``
* STRING1/STRING4 -> ``str`` (UTF-8, undecodable bytes kept as surrogate escapes, so that
  re-encoding gives the same bytes; :func:`get_str` rejects them)
* SIMPLE_LIST -> ``bytes``
* LIST -> ``list`` of element values
* STRUCT -> nested ``dict[int, object]``
* MAP -> :class:`TarsMap` (a ``dict`` subclass, so it can be told apart from a struct)
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

Fields = dict[int, object]

# Type ids (§3.2)
INT1 = 0
INT2 = 1
INT4 = 2
INT8 = 3
FLOAT = 4
DOUBLE = 5
STRING1 = 6
STRING4 = 7
MAP = 8
LIST = 9
STRUCT_BEGIN = 10
STRUCT_END = 11
ZERO_TAG = 12
SIMPLE_LIST = 13

MAX_DEPTH = 16

_INT_LIMITS = {8: (-(1 << 7), (1 << 7) - 1), 16: (-(1 << 15), (1 << 15) - 1)}
_INT_LIMITS[32] = (-(1 << 31), (1 << 31) - 1)
_INT_LIMITS[64] = (-(1 << 63), (1 << 63) - 1)


class TarsDecodeError(ValueError):
    """The bytes are not a valid Tars encoding (or miss a required field)."""


class TarsMap(dict[Any, Any]):
    """A decoded MAP field (distinct from a decoded STRUCT, which is a plain ``dict``)."""


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


class TarsWriter:
    """Appends Tars fields to a buffer. Every ``write_*`` method returns ``self``."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def to_bytes(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def write_head(self, tag: int, type_id: int) -> TarsWriter:
        if not 0 <= type_id <= 13:
            raise ValueError(f"bad type id {type_id}")
        if 0 <= tag <= 14:
            self._buf.append((tag << 4) | type_id)
        elif 15 <= tag <= 255:
            self._buf.append(0xF0 | type_id)
            self._buf.append(tag)
        else:
            raise ValueError(f"tag {tag} cannot be encoded")
        return self

    def write_raw(self, data: bytes) -> TarsWriter:
        """Append bytes as they are (no head)."""
        self._buf += data
        return self

    # integers -----------------------------------------------------------------------------

    def write_int(self, tag: int, value: int) -> TarsWriter:
        """Any integer kind (bool, byte, short, int, long, enum): smallest form (§3.3)."""
        v = int(value)
        if v == 0:
            return self.write_head(tag, ZERO_TAG)
        if -128 <= v <= 127:
            self.write_head(tag, INT1)
            self._buf += struct.pack(">b", v)
        elif -32768 <= v <= 32767:
            self.write_head(tag, INT2)
            self._buf += struct.pack(">h", v)
        elif -(1 << 31) <= v <= (1 << 31) - 1:
            self.write_head(tag, INT4)
            self._buf += struct.pack(">i", v)
        elif -(1 << 63) <= v <= (1 << 63) - 1:
            self.write_head(tag, INT8)
            self._buf += struct.pack(">q", v)
        else:
            raise ValueError(f"integer {v} does not fit in 64 bits")
        return self

    def write_bool(self, tag: int, value: bool) -> TarsWriter:
        return self.write_int(tag, 1 if value else 0)

    def write_float(self, tag: int, value: float) -> TarsWriter:
        self.write_head(tag, FLOAT)
        self._buf += struct.pack(">f", value)
        return self

    def write_double(self, tag: int, value: float) -> TarsWriter:
        self.write_head(tag, DOUBLE)
        self._buf += struct.pack(">d", value)
        return self

    # strings and bytes --------------------------------------------------------------------

    def write_string(self, tag: int, value: str | bytes) -> TarsWriter:
        data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
        if len(data) <= 255:
            self.write_head(tag, STRING1)
            self._buf.append(len(data))
        else:
            self.write_head(tag, STRING4)
            self._buf += struct.pack(">I", len(data))
        self._buf += data
        return self

    def write_bytes(self, tag: int, value: bytes) -> TarsWriter:
        """``vector<byte>`` as SIMPLE_LIST (§3.5)."""
        self.write_head(tag, SIMPLE_LIST)
        self._buf.append(0x00)
        self.write_int(0, len(value))
        self._buf += value
        return self

    # containers ---------------------------------------------------------------------------

    def write_list(
        self, tag: int, items: Sequence[T], write_elem: Callable[[TarsWriter, int, T], object]
    ) -> TarsWriter:
        """``vector<T>`` (T not byte) as LIST; each element is written with tag 0."""
        self.write_head(tag, LIST)
        self.write_int(0, len(items))
        for item in items:
            write_elem(self, 0, item)
        return self

    def write_string_list(self, tag: int, items: Sequence[str]) -> TarsWriter:
        return self.write_list(tag, items, TarsWriter.write_string)

    def write_int_list(self, tag: int, items: Sequence[int]) -> TarsWriter:
        return self.write_list(tag, items, TarsWriter.write_int)

    def write_struct(self, tag: int, body: bytes | TarsWriter) -> TarsWriter:
        """A nested struct whose fields (bare encoding) are ``body``."""
        self.write_head(tag, STRUCT_BEGIN)
        self._buf += body.to_bytes() if isinstance(body, TarsWriter) else body
        self._buf.append(0x0B)  # STRUCT_END, always with tag 0
        return self

    def write_struct_list(self, tag: int, bodies: Sequence[bytes]) -> TarsWriter:
        return self.write_list(tag, bodies, TarsWriter.write_struct)

    def write_map(
        self,
        tag: int,
        entries: Mapping[K, V],
        write_key: Callable[[TarsWriter, int, K], object],
        write_value: Callable[[TarsWriter, int, V], object],
    ) -> TarsWriter:
        """MAP with entries in ascending key order (TarsCpp's std::map order)."""
        self.write_head(tag, MAP)
        self.write_int(0, len(entries))
        for key in sorted(entries):  # type: ignore[type-var]
            write_key(self, 0, key)
            write_value(self, 1, entries[key])
        return self

    # optional fields (omitted when equal to the default, §3.8) ---------------------------

    def opt_int(self, tag: int, value: int, default: int = 0) -> TarsWriter:
        return self if value == default else self.write_int(tag, value)

    def opt_string(self, tag: int, value: str, default: str = "") -> TarsWriter:
        return self if value == default else self.write_string(tag, value)

    def opt_struct_list(self, tag: int, bodies: Sequence[bytes]) -> TarsWriter:
        return self if not bodies else self.write_struct_list(tag, bodies)


# --------------------------------------------------------------------------------------------
# Reader
# --------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining():
            raise TarsDecodeError(f"truncated: need {n} bytes at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def head(self) -> tuple[int, int]:
        b = self.take(1)[0]
        type_id = b & 0x0F
        tag = b >> 4
        if tag == 15:
            tag = self.take(1)[0]
        if type_id > 13:
            raise TarsDecodeError(f"invalid type id {type_id}")
        return tag, type_id

    def length(self) -> int:
        """A count or length: an integer field with tag 0, ≥ 0 and ≤ the bytes left."""
        tag, type_id = self.head()
        if tag != 0:
            raise TarsDecodeError(f"length field has tag {tag}, expected 0")
        value = self.value(type_id, 0)
        if not isinstance(value, int):
            raise TarsDecodeError("length field is not an integer")
        if value < 0 or value > self.remaining():
            raise TarsDecodeError(f"bad length {value} ({self.remaining()} bytes left)")
        return value

    def value(self, type_id: int, depth: int) -> object:
        if type_id == ZERO_TAG:
            return 0
        if type_id == INT1:
            return int(struct.unpack(">b", self.take(1))[0])
        if type_id == INT2:
            return int(struct.unpack(">h", self.take(2))[0])
        if type_id == INT4:
            return int(struct.unpack(">i", self.take(4))[0])
        if type_id == INT8:
            return int(struct.unpack(">q", self.take(8))[0])
        if type_id == FLOAT:
            return float(struct.unpack(">f", self.take(4))[0])
        if type_id == DOUBLE:
            return float(struct.unpack(">d", self.take(8))[0])
        if type_id in (STRING1, STRING4):
            n = self.take(1)[0] if type_id == STRING1 else struct.unpack(">I", self.take(4))[0]
            return self.take(n).decode("utf-8", "surrogateescape")
        if type_id == SIMPLE_LIST:
            _, inner = self.head()
            if inner != INT1:
                raise TarsDecodeError(f"SIMPLE_LIST element type {inner}, expected INT1")
            return self.take(self.length())
        if depth >= MAX_DEPTH:
            raise TarsDecodeError("nesting too deep")
        if type_id == LIST:
            items: list[object] = []
            for _ in range(self.length()):
                tag, t = self.head()
                if tag != 0:
                    raise TarsDecodeError(f"list element has tag {tag}, expected 0")
                items.append(self.value(t, depth + 1))
            return items
        if type_id == MAP:
            out = TarsMap()
            for _ in range(self.length()):
                ktag, kt = self.head()
                key = self.value(kt, depth + 1)
                vtag, vt = self.head()
                val = self.value(vt, depth + 1)
                if ktag != 0 or vtag != 1:
                    raise TarsDecodeError("map entry tags must be 0 (key) and 1 (value)")
                try:
                    out[key] = val
                except TypeError as exc:
                    raise TarsDecodeError("unhashable map key") from exc
            return out
        if type_id == STRUCT_BEGIN:
            return self.fields(depth + 1, bare=False)
        raise TarsDecodeError(f"unexpected type id {type_id}")  # STRUCT_END out of place

    def fields(self, depth: int, bare: bool) -> Fields:
        out: Fields = {}
        while True:
            if bare and self.remaining() == 0:
                return out
            tag, type_id = self.head()
            if type_id == STRUCT_END:
                if bare:
                    raise TarsDecodeError("STRUCT_END in a bare struct")
                return out
            if tag in out:
                raise TarsDecodeError(f"tag {tag} repeated")
            out[tag] = self.value(type_id, depth)


def decode_struct(data: bytes) -> Fields:
    """Parse a bare struct (§3.7): the whole buffer, tag -> value."""
    return _Reader(bytes(data)).fields(0, bare=True)


def decode_value(data: bytes) -> tuple[int, object]:
    """Parse exactly one field (head + value) occupying the whole buffer: (tag, value)."""
    r = _Reader(bytes(data))
    tag, type_id = r.head()
    value = r.value(type_id, 0)
    if r.remaining():
        raise TarsDecodeError(f"{r.remaining()} trailing bytes")
    return tag, value


# --------------------------------------------------------------------------------------------
# Typed accessors for a decoded field table (used by the OMTP payload decoders)
# --------------------------------------------------------------------------------------------


def _missing(tag: int) -> TarsDecodeError:
    return TarsDecodeError(f"required field {tag} missing")


def get_int(f: Fields, tag: int, *, required: bool = True, default: int = 0, bits: int = 64) -> int:
    """An integer field declared with ``bits`` width (8 byte, 16 short, 32 int, 64 long)."""
    if tag not in f:
        if required:
            raise _missing(tag)
        return default
    v = f[tag]
    if not isinstance(v, int) or isinstance(v, bool):
        raise TarsDecodeError(f"field {tag}: expected an integer, got {type(v).__name__}")
    lo, hi = _INT_LIMITS[bits]
    if not lo <= v <= hi:
        raise TarsDecodeError(f"field {tag}: {v} does not fit a {bits}-bit integer")
    return v


def get_str(f: Fields, tag: int, *, required: bool = True, default: str = "") -> str:
    if tag not in f:
        if required:
            raise _missing(tag)
        return default
    v = f[tag]
    if not isinstance(v, str):
        raise TarsDecodeError(f"field {tag}: expected a string, got {type(v).__name__}")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TarsDecodeError(f"field {tag}: string is not valid UTF-8") from exc
    return v


def get_bytes(f: Fields, tag: int, *, required: bool = True) -> bytes:
    """``vector<byte>``: SIMPLE_LIST, or a LIST of byte-sized integers (§2.2, §3.5)."""
    if tag not in f:
        if required:
            raise _missing(tag)
        return b""
    v = f[tag]
    if isinstance(v, bytes):
        return v
    if isinstance(v, list):
        out = bytearray()
        for x in v:
            if not isinstance(x, int) or not -128 <= x <= 127:
                raise TarsDecodeError(f"field {tag}: list element {x!r} is not a byte")
            out.append(x & 0xFF)
        return bytes(out)
    raise TarsDecodeError(f"field {tag}: expected vector<byte>, got {type(v).__name__}")


def get_struct(f: Fields, tag: int, *, required: bool = True) -> Fields:
    if tag not in f:
        if required:
            raise _missing(tag)
        return {}
    v = f[tag]
    if not isinstance(v, dict) or isinstance(v, TarsMap):
        raise TarsDecodeError(f"field {tag}: expected a struct, got {type(v).__name__}")
    return v


def get_list(f: Fields, tag: int, *, required: bool = True) -> list[object]:
    if tag not in f:
        if required:
            raise _missing(tag)
        return []
    v = f[tag]
    if not isinstance(v, list):
        raise TarsDecodeError(f"field {tag}: expected a list, got {type(v).__name__}")
    return v


def get_str_list(f: Fields, tag: int, *, required: bool = True) -> list[str]:
    out: list[str] = []
    for i, item in enumerate(get_list(f, tag, required=required)):
        out.append(get_str({i: item}, i))
    return out


def get_struct_list(f: Fields, tag: int, *, required: bool = True) -> list[Fields]:
    out: list[Fields] = []
    for i, item in enumerate(get_list(f, tag, required=required)):
        out.append(get_struct({i: item}, i))
    return out
