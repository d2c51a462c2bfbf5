"""The generic Tars layer against omtp.md §3: Group A golden vectors, acceptance rules, skipping, bounds."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from polyim.protocols.omtp import tars
from polyim.protocols.omtp.tars import (
    BOOL,
    BYTE,
    BYTES,
    DOUBLE,
    ENUM,
    FLOAT,
    INT,
    LONG,
    SHORT,
    STRING,
    Field,
    Kind,
    ListKind,
    MapKind,
    StructKind,
    StructSpec,
    TarsDecodeError,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def one(tag: int, kind: Kind, required: bool = True, default: Any = None) -> StructSpec:
    """A bare struct with a single field, decoding to that field's value."""
    return StructSpec("One", [Field(tag, "v", kind, required, default)], lambda v: v)


class Box:
    """Anything with a ``v`` attribute encodes through :func:`one`'s spec."""

    def __init__(self, v: Any) -> None:
        self.v = v


def encode_one(tag: int, kind: Kind, value: Any, required: bool = True) -> bytes:
    return one(tag, kind, required).encode(Box(value))


# omtp.md §3.10 Group A, the value-per-tag rows.  Unsigned IDL types are widened before narrowing (§3.3):
# unsigned byte → short, unsigned short → int, unsigned int → long.
GROUP_A = [
    ("byte -1 @2", BYTE, 2, -1, "20ff"),
    ("short 127", SHORT, 0, 127, "007f"),
    ("short 128", SHORT, 0, 128, "010080"),
    ("short -129", SHORT, 0, -129, "01ff7f"),
    ("int 32767", INT, 0, 32767, "017fff"),
    ("int 32768", INT, 0, 32768, "0200008000"),
    ("int -32769", INT, 0, -32769, "02ffff7fff"),
    ("long 2147483648", LONG, 0, 2147483648, "030000000080000000"),
    ("long -1", LONG, 0, -1, "00ff"),
    ("unsigned byte 200", SHORT, 0, 200, "0100c8"),
    ("unsigned short 40000", INT, 0, 40000, "0200009c40"),
    ("unsigned int 3000000000", LONG, 0, 3000000000, "0300000000b2d05e00"),
    ("float 1.5", FLOAT, 0, 1.5, "043fc00000"),
    ("float 0.0", FLOAT, 0, 0.0, "0400000000"),
    ("double 1.5 @3", DOUBLE, 3, 1.5, "353ff8000000000000"),
    ('string "" @15', STRING, 15, "", "f60f00"),
    ('string "ab" @200', STRING, 200, "ab", "f6c8026162"),
    ("map<string,int> {a:1, b:0} @4", MapKind(STRING, INT), 4, {"a": 1, "b": 0}, "48000206016110010601621c"),
    ('vector<string> ["x", ""] @5', ListKind(STRING), 5, ("x", ""), "5900020601780600"),
    ("vector<long> [1, 70000] @6", ListKind(LONG), 6, (1, 70000), "69000200010200011170"),
    ("vector<byte> 7f 7f 7f @7", BYTES, 7, b"\x7f\x7f\x7f", "7d0000037f7f7f"),
]


@pytest.mark.parametrize(
    ("kind", "tag", "value", "wire"), [row[1:] for row in GROUP_A], ids=[r[0] for r in GROUP_A]
)
def test_group_a_field_vectors(kind: Kind, tag: int, value: Any, wire: str) -> None:
    assert encode_one(tag, kind, value) == h(wire)
    assert one(tag, kind).decode(h(wire)) == value


def test_group_a_bools() -> None:
    spec = StructSpec("Bools", [Field(0, "a", BOOL, True), Field(1, "b", BOOL, True)], lambda a, b: (a, b))

    class Two:
        a = True
        b = False

    assert spec.encode(Two()) == h("0001 1c")
    assert spec.decode(h("00011c")) == (True, False)
    assert spec.decode(h("0005 1c")) == (True, False)  # TarsCpp: any non-zero byte is true


def test_float_and_double_wire_forms() -> None:
    assert one(0, FLOAT).decode(h("0c")) == 0.0
    assert one(0, DOUBLE).decode(h("0c")) == 0.0
    assert one(0, DOUBLE).decode(h("043fc00000")) == 1.5
    with pytest.raises(TarsDecodeError):
        one(0, FLOAT).decode(h("053ff8000000000000"))
    with pytest.raises(TarsDecodeError):
        one(0, FLOAT).decode(h("0001"))


# --------------------------------------------------------------------------------------------------------
# Integer acceptance (§3.3): up to the declared width, sign-extended; anything else is a mismatch.

INT_FORMS = {
    "ZERO": "0c",
    "INT1": "00ff",
    "INT2": "01ff7f",
    "INT4": "02ffff7fff",
    "INT8": "03ffffffff7fffffff",
}
INT_VALUES = {"ZERO": 0, "INT1": -1, "INT2": -129, "INT4": -32769, "INT8": -2147483649}
ACCEPTED = {
    BYTE: ("ZERO", "INT1"),
    SHORT: ("ZERO", "INT1", "INT2"),
    INT: ("ZERO", "INT1", "INT2", "INT4"),
    LONG: ("ZERO", "INT1", "INT2", "INT4", "INT8"),
}


@pytest.mark.parametrize("kind", list(ACCEPTED), ids=lambda k: k.name)
@pytest.mark.parametrize("form", list(INT_FORMS))
def test_integer_acceptance(kind: Kind, form: str) -> None:
    data = h(INT_FORMS[form])
    if form in ACCEPTED[kind]:
        assert one(0, kind).decode(data) == INT_VALUES[form]
    else:
        with pytest.raises(TarsDecodeError, match="cannot be read as"):
            one(0, kind).decode(data)


@pytest.mark.parametrize("wire", ["0601 78", "043fc00000", "0a0b", "090c"])
def test_integer_rejects_non_integers(wire: str) -> None:
    with pytest.raises(TarsDecodeError):
        one(0, LONG).decode(h(wire))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (BYTE, 128),
        (BYTE, -129),
        (SHORT, 40000),
        (SHORT, -32769),
        (INT, 2**31),
        (LONG, 2**63),
        (LONG, -(2**63) - 1),
    ],
)
def test_encoder_refuses_values_beyond_declared_width(kind: Kind, value: int) -> None:
    with pytest.raises(ValueError):
        encode_one(0, kind, value)


def test_integer_extremes_round_trip() -> None:
    for kind, lo, hi in (
        (BYTE, -128, 127),
        (SHORT, -(2**15), 2**15 - 1),
        (INT, -(2**31), 2**31 - 1),
        (LONG, -(2**63), 2**63 - 1),
    ):
        for v in (lo, hi, 0, 1, -1):
            assert one(0, kind).decode(encode_one(0, kind, v)) == v


# --------------------------------------------------------------------------------------------------------
# Strings and byte vectors


def test_string_accepts_string4_and_uses_it_above_255_bytes() -> None:
    assert one(1, STRING).decode(h("17 00000002 6162")) == "ab"
    long_text = "é" * 128  # 256 bytes
    wire = encode_one(0, STRING, long_text)
    assert wire[:5] == h("07 00000100")
    assert one(0, STRING).decode(wire) == long_text
    assert encode_one(0, STRING, "x" * 255)[:2] == h("06ff")


@pytest.mark.parametrize("wire", ["0602c328", "0601ff", "0603eda080", "07000000018f"])
def test_invalid_utf8_is_rejected(wire: str) -> None:
    with pytest.raises(TarsDecodeError, match="UTF-8"):
        one(0, STRING).decode(h(wire))


def test_string_rejects_other_types() -> None:
    with pytest.raises(TarsDecodeError, match="cannot be read as string"):
        one(0, STRING).decode(h("0001"))


def test_bytes_accept_list_of_bytes() -> None:
    assert one(0, BYTES).decode(h("09 0003 007f 0c 00ff")) == b"\x7f\x00\xff"
    assert one(0, BYTES).decode(h("09 0002 0001 0002")) == b"\x01\x02"
    assert one(0, BYTES).decode(h("09 0c")) == b""
    with pytest.raises(TarsDecodeError):
        one(0, BYTES).decode(h("09 0001 010100"))  # an INT2 element is not a byte
    with pytest.raises(TarsDecodeError):
        one(0, BYTES).decode(h("09 0001 1001"))  # element tag must be 0


def test_simple_list_inner_head_must_be_int1() -> None:
    with pytest.raises(TarsDecodeError, match="SIMPLE_LIST"):
        one(0, BYTES).decode(h("0d 01 0001 7f"))


def test_simple_list_length_forms() -> None:
    assert encode_one(1, BYTES, b"") == h("1d000c")
    assert encode_one(1, BYTES, bytes(200))[:5] == h("1d 00 0100c8")


def test_map_is_written_in_key_order_and_read_back() -> None:
    kind = MapKind(INT, STRING)
    assert encode_one(0, kind, {2: "b", 1: "a"}) == encode_one(0, kind, {1: "a", 2: "b"})
    assert one(0, kind).decode(encode_one(0, kind, {2: "b", 1: "a"})) == {1: "a", 2: "b"}
    with pytest.raises(TarsDecodeError, match="map value must have tag 1"):
        one(0, kind).decode(h("08 0001 0001 0601 61"))


# --------------------------------------------------------------------------------------------------------
# Structs: require/optional, defaults, ordering, repeated and unknown tags


class Inner:
    def __init__(self, a: int, b: str) -> None:
        self.a = a
        self.b = b

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Inner) and (self.a, self.b) == (other.a, other.b)


INNER = StructSpec("Inner", [Field(0, "a", INT, True), Field(1, "b", STRING, False)], Inner)


class Outer:
    def __init__(self, x: int, inner: Inner, items: tuple[Inner, ...], n: int, e: int) -> None:
        self.x = x
        self.inner = inner
        self.items = items
        self.n = n
        self.e = e

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outer) and vars(self) == vars(other)


OUTER = StructSpec(
    "Outer",
    [
        Field(0, "x", LONG, True),
        Field(1, "inner", StructKind(INNER), False),
        Field(2, "items", ListKind(StructKind(INNER)), False),
        Field(3, "n", INT, True, default=200),
        Field(4, "e", ENUM, False),
    ],
    Outer,
)


def test_optional_defaults_omitted_but_structs_enums_and_require_written() -> None:
    value = Outer(0, Inner(0, ""), (), 200, 0)
    # x (require) 0 → 0C; inner (optional struct) always: 1A 0C 0B; items omitted; n (require) 200; e enum 0.
    assert OUTER.encode(value) == h("0c 1a0c0b 3100c8 4c")
    assert OUTER.decode(OUTER.encode(value)) == value


def test_explicit_default_on_require_field_is_taken_when_missing() -> None:
    assert OUTER.decode(h("0c")) == Outer(0, Inner(0, ""), (), 200, 0)


def test_missing_require_field_is_an_error() -> None:
    with pytest.raises(TarsDecodeError, match="require field"):
        OUTER.decode(h("1a0c0b"))
    with pytest.raises(TarsDecodeError, match="require field"):
        OUTER.decode(h("0c 1a 1600 0b"))  # Inner.a missing


def test_fields_in_any_order() -> None:
    assert OUTER.decode(h("3005 0001")) == Outer(1, Inner(0, ""), (), 5, 0)


def test_repeated_tag_is_an_error() -> None:
    with pytest.raises(TarsDecodeError, match="repeated"):
        OUTER.decode(h("0001 0002"))
    with pytest.raises(TarsDecodeError, match="repeated"):
        OUTER.decode(h("0c 1a 0001 0002 0b"))
    with pytest.raises(TarsDecodeError, match="repeated"):
        OUTER.decode(h("0c cc fc0c"))  # unknown tag 12 twice, the second in its two-byte form


# One field of every type id, at unknown tags (§3.9), with nested containers inside.
UNKNOWN_FIELDS = (
    "50 7f"  # tag 5 INT1
    "61 0102"  # INT2
    "72 01020304"  # INT4
    "83 0102030405060708"  # INT8
    "94 3fc00000"  # FLOAT
    "a5 3ff8000000000000"  # DOUBLE
    "b6 02 6869"  # STRING1
    "c7 00000002 6869"  # STRING4
    "d8 0001 0601 61 1a 0001 0b"  # MAP<string, struct>
    "e9 0002 0a 0a 0b 0b 09 0001 0c"  # LIST of a struct holding a struct, and of a list
    "fa 0f 00 01 1a 0b 0b"  # STRUCT_BEGIN at tag 15, with a struct inside
    "fc 10"  # ZERO_TAG at tag 16
    "fd ff 00 0003 010203"  # SIMPLE_LIST at tag 255
)


def test_unknown_fields_of_every_type_are_skipped() -> None:
    assert OUTER.decode(h("0007" + UNKNOWN_FIELDS)) == Outer(7, Inner(0, ""), (), 200, 0)
    # Also inside a nested struct, before its STRUCT_END.
    assert OUTER.decode(h("0007 1a 0001" + UNKNOWN_FIELDS + "0b")) == Outer(7, Inner(1, ""), (), 200, 0)


@pytest.mark.parametrize("t", [14, 15])
def test_invalid_type_ids_are_rejected(t: int) -> None:
    with pytest.raises(TarsDecodeError, match="invalid type id"):
        OUTER.decode(h("0c") + bytes(((9 << 4) | t,)))  # unknown tag 9
    with pytest.raises(TarsDecodeError):
        OUTER.decode(bytes((t,)))  # known tag 0


def test_struct_end_outside_a_struct_is_an_error() -> None:
    with pytest.raises(TarsDecodeError, match="STRUCT_END"):
        OUTER.decode(h("0c0b"))


def test_unterminated_nested_struct_is_an_error() -> None:
    with pytest.raises(TarsDecodeError, match="STRUCT_END expected"):
        OUTER.decode(h("0c 1a 0001"))


def test_decode_window_ignores_bytes_beyond_end() -> None:
    data = h("ff ff 0001 ff")
    assert one(0, INT).decode(data, 2, 4) == 1
    with pytest.raises(TarsDecodeError, match="truncated"):
        one(0, INT).decode(h("0100 ff"), 0, 2)


def test_every_truncation_raises_only_decode_errors() -> None:
    value = Outer(-5, Inner(300, "héllo"), (Inner(1, "a"), Inner(2, "b" * 300)), 7, 3)
    full = OUTER.encode(value)
    assert OUTER.decode(full) == value
    for cut in range(len(full)):
        with contextlib.suppress(TarsDecodeError):
            OUTER.decode(full[:cut])


# --------------------------------------------------------------------------------------------------------
# Bounds: counts and lengths against the bytes left; nesting depth


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        ("09 0005 0c0c", ListKind(INT)),  # list count 5, 2 elements left
        ("09 00ff", ListKind(INT)),  # negative count
        ("09 037fffffffffffffff", ListKind(INT)),  # count as INT8
        ("09 1001 0c", ListKind(INT)),  # count with tag 1
        ("08 0002 0c1c", MapKind(INT, INT)),  # 2 entries need at least 4 bytes
        ("07 7fffffff 61", STRING),  # STRING4 length beyond the buffer
        ("06 05 6162", STRING),  # STRING1 length beyond the buffer
        ("0d 00 0004 010203", BYTES),  # SIMPLE_LIST length beyond the buffer
        ("0d 00 00ff", BYTES),  # negative SIMPLE_LIST length
    ],
)
def test_counts_and_lengths_beyond_the_buffer(wire: str, kind: Kind) -> None:
    with pytest.raises(TarsDecodeError):
        one(0, kind).decode(h(wire))
    with pytest.raises(TarsDecodeError):
        one(9, INT, required=False).decode(h(wire))  # tag 0 unknown: the same through the skipper


def nested_lists(depth: int) -> bytes:
    """A field at tag 0 holding ``depth`` lists nested inside each other, the innermost empty."""
    return h("09 0001") * (depth - 1) + h("09 0c")


def test_depth_limit_for_typed_lists() -> None:
    kind: Kind = INT
    for _ in range(tars.MAX_DEPTH):
        kind = ListKind(kind)
    assert one(0, kind).decode(nested_lists(tars.MAX_DEPTH)) is not None
    deeper = ListKind(kind)
    with pytest.raises(TarsDecodeError, match="nesting"):
        one(0, deeper).decode(nested_lists(tars.MAX_DEPTH + 1))


def test_depth_limit_when_skipping() -> None:
    spec = one(9, INT, required=False)
    assert spec.decode(nested_lists(tars.MAX_DEPTH)) == 0
    with pytest.raises(TarsDecodeError, match="nesting"):
        spec.decode(nested_lists(tars.MAX_DEPTH + 1))
    structs = h("0a") * tars.MAX_DEPTH + h("0b") * tars.MAX_DEPTH
    assert spec.decode(structs) == 0
    with pytest.raises(TarsDecodeError, match="nesting"):
        spec.decode(h("0a") + structs + h("0b"))
    with pytest.raises(TarsDecodeError, match="nesting"):
        spec.decode(h("0a") * 100_000)  # no RecursionError


class Node(Box):
    @property
    def child(self) -> Any:
        return self.v


def struct_chain(levels: int) -> Kind:
    """A struct kind whose field 0 is a struct kind whose field 0 is …, ``levels`` structs in all."""
    kind: Kind = INT
    for _ in range(levels):
        kind = StructKind(StructSpec("Node", [Field(0, "child", kind, False)], Node))
    return kind


def test_depth_limit_for_typed_structs() -> None:
    depth = tars.MAX_DEPTH
    value = one(0, struct_chain(depth)).decode(h("0a") * depth + h("0b") * depth)
    for _ in range(depth):
        value = value.child
    assert value == 0
    with pytest.raises(TarsDecodeError, match="nesting"):
        one(0, struct_chain(depth + 1)).decode(h("0a") * (depth + 1) + h("0b") * (depth + 1))


# --------------------------------------------------------------------------------------------------------
# Heads


def test_two_byte_heads() -> None:
    for tag in (15, 16, 200, 255):
        wire = encode_one(tag, INT, 1)
        assert wire == bytes((0xF0, tag, 1))
        assert one(tag, INT).decode(wire) == 1
    with pytest.raises(TarsDecodeError, match="second byte"):
        one(15, INT).decode(h("f0"))


def test_tags_beyond_255_cannot_be_declared() -> None:
    with pytest.raises(ValueError):
        Field(256, "v", INT, True)


def test_duplicate_tags_in_a_spec_are_refused() -> None:
    with pytest.raises(ValueError):
        StructSpec("Dup", [Field(1, "a", INT, True), Field(1, "b", INT, True)], lambda a, b: None)
