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
