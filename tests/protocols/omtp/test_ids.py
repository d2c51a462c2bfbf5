"""OMTP's id names (omtp.md §5.3.1, §9.1): parsed the same the first time and every time after, and a
client's made-up names are never kept."""

from __future__ import annotations

import tracemalloc

import pytest

from polyim.core.ids import MAX_ID
from polyim.protocols.omtp import ids


@pytest.mark.parametrize(
    ("text", "uid"),
    [
        ("10001", 10001),
        ("0", None),
        ("010001", None),
        ("", None),
        ("-5", None),
        ("1" * 21, None),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("１２３", None),
        (" 7", None),
    ],
)
def test_a_uid_parses_the_same_when_it_is_remembered(text: str, uid: int | None) -> None:
    assert ids.parse_uid(text) == uid
    assert ids.parse_uid(text) == uid


def test_names_parse_the_same_when_they_are_remembered() -> None:
    for _ in range(2):
        assert ids.parse_gid("GC_42") == 42 and ids.parse_gid("GC_042") is None
        assert ids.parse_gid(f"GC_{MAX_ID + 1}") is None
        assert ids.pair_of("LP_G1_10001_10002") == (10001, 10002) and ids.pair_of("SC_2_1") == (2, 1)
        assert ids.pair_of(f"LP_G1_1_{MAX_ID + 1}") is None and ids.pair_of("topic") is None
        assert ids.peer_session_id(10002, 9) == "LP_G1_10002_9"  # byte-wise order of the decimal text


def test_long_made_up_names_are_not_kept() -> None:
    """2,000 distinct 20 KB names (40 MB) as `to`, `sessionId` and group id: once parsed and dropped, they
    leave nothing behind. A memo that kept them would let clients fill the server's memory."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            name = f"{i:020d}" + "9" * 20_000
            assert ids.parse_uid(name) is None
            assert ids.parse_gid("GC_" + name) is None
            assert ids.pair_of(f"x{name}_1_2") == (1, 2)
            del name
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, kept
