"""Hypothesis helpers shared by the codec fuzz tests of every protocol with a framed byte stream."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, Protocol

from hypothesis import strategies as st


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given points (taken modulo its length), as a stream's reads might cut it."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in pairwise([0, *points, len(data)])]


@st.composite
def mutated_stream(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """Valid frames from ``seeds`` back to back, then a few byte flips, insertions, deletions or a
    truncation: garbage that is close enough to the protocol to reach past its header checks."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(seeds), min_size=1, max_size=6))))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


class _Framed(Protocol):
    """A codec error that carries the frames decoded before it (``exc.frames``)."""

    frames: tuple[Any, ...]


def feed_all(
    feed: Callable[[bytes], list[Any]], error: type[BaseException], pieces: list[bytes]
) -> tuple[list[Any], BaseException | None]:
    """Feed pieces until the codec raises; only ``error`` may escape it. Returns every frame decoded
    (those riding on the error included) and the error, if one ended the stream."""
    out: list[Any] = []
    for piece in pieces:
        try:
            out += feed(piece)
        except error as exc:
            framed: _Framed = exc  # type: ignore[assignment]
            return out + list(framed.frames), exc
    return out, None


# -- protobuf bodies in forms no library writes ------------------------------------------------------
_UINT64 = st.integers(0, 2**64 - 1)


def varint(value: int, padding: int) -> bytes:
    """``value`` as a varint, ``padding`` bytes longer than it need be (a form the runtime accepts)."""
    value &= 2**64 - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out += bytes([value | 0x80] + [0x80] * (padding - 1) + [0]) if padding else bytes([value])
    return bytes(out)


# "inside" (the deviation is within a sub-message) thrice: the content's size is where most of them show.
DEVIATIONS = (
    "none",
    "default",
    "padded",
    "wire type",
    "repeated",
    "missing",
    "swapped",
    "unknown",
    *["inside"] * 3,
)


@st.composite
def raw_fields(draw: st.DrawFn, schema: dict[int, Any], deviate: bool = True, required: int = 0) -> bytes:
    """Fields of ``schema`` (number → wire type 0 or 2, or a sub-schema) as a library writes them but
    for one deviation at one field, at any depth: a value at its default, a padded varint, another wire
    type, the field repeated or missing, two fields swapped, an unknown field. Forms a protobuf library
    never writes, which the runtime judges. Fields 1 to ``required`` (proto2's required ones) are
    written unless the deviation is that one is missing."""
    numbers = sorted(draw(st.sets(st.sampled_from(sorted(schema)), min_size=1)) | set(range(1, required + 1)))
    at = draw(st.integers(0, len(numbers) - 1))
    how = draw(st.sampled_from(DEVIATIONS)) if deviate else "none"
    if how == "inside" and not isinstance(schema[numbers[at]], dict):
        how = draw(st.sampled_from([d for d in DEVIATIONS if d != "inside"]))
    if how == "missing":
        del numbers[at]
    fields = []
    for i, number in enumerate(numbers):
        kind = schema[number]
        field = _raw_field(draw, number, kind, how if i == at else "none")
        fields.append(field)
        if i == at and how == "repeated":
            fields.append(_raw_field(draw, number, kind, "none"))
        if i == at and how == "unknown":
            fields.append(_raw_field(draw, draw(st.integers(11, 15)), draw(st.sampled_from([0, 2])), "none"))
    if how == "swapped" and at + 1 < len(fields):
        fields[at], fields[at + 1] = fields[at + 1], fields[at]
    return b"".join(fields)


def _raw_field(draw: st.DrawFn, number: int, kind: Any, how: str) -> bytes:
    padding = draw(st.sampled_from([1, 2])) if how == "padded" else 0
    if how == "wire type":
        kind = 0 if kind else 2
    if isinstance(kind, dict):
        payload = b"" if how == "default" else draw(raw_fields(kind, how == "inside"))
        return varint(number << 3 | 2, 0) + varint(len(payload), padding) + payload
    if kind == 0:
        value = draw(st.one_of(st.integers(1, 300), st.integers(1, 300), _UINT64, st.integers(-(2**63), -1)))
        return varint(number << 3, 0) + varint(0 if how == "default" else value, padding)
    text = st.one_of(st.text(min_size=1, max_size=8).map(str.encode), st.binary(min_size=1, max_size=4))
    payload = b"" if how == "default" else draw(text)
    return varint(number << 3 | 2, padding) + varint(len(payload), 0) + payload
