"""A user or group id from the TeamTalk wire (teamtalk.md §8.1, §2.6 step 5): 1-20 ASCII digits naming
an id the store can hold, checked without a regex and held to the grammar's; and a 3/1's dedup key."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from polyim.protocols.teamtalk.adapter import client_id, id_text, wire_id

_GRAMMAR = re.compile(r"[0-9]{1,20}")


@given(st.text(alphabet="0123456789 -+_.a٣²\x00", max_size=24))
def test_an_id_is_read_exactly_when_it_is_ascii_digits_the_store_can_hold(text: str) -> None:
    expected = int(text) if _GRAMMAR.fullmatch(text) and 0 < int(text) < 1 << 63 else None
    assert wire_id(text) == expected


@given(st.integers(1, (1 << 63) - 1))
def test_an_id_written_reads_back_as_itself(uid: int) -> None:
    assert id_text(uid) == str(uid)
    assert wire_id(id_text(uid)) == uid
    assert wire_id(id_text(uid)) == uid  # and again, once it is remembered


def test_ids_at_the_edges() -> None:
    assert wire_id("1") == 1
    assert wire_id(str((1 << 63) - 1)) == (1 << 63) - 1
    assert wire_id(str(1 << 63)) is None
    assert wire_id("0") is None
    assert wire_id("٣") is None  # a digit, but not an ASCII one
    assert wire_id("") is None


@given(st.integers(0, (1 << 32) - 1), st.binary(max_size=300), st.integers(0, 3))
def test_a_messages_dedup_key_is_the_one_stored_by_earlier_versions(seq: int, text: bytes, gen: int) -> None:
    """A 3/1 resent across an upgrade must find the message stored before it: its key is the seq, the
    8-byte BLAKE2b of the text in hex and, past the first, the generation."""
    digest = hashlib.blake2b(text, digest_size=8).hexdigest()
    assert client_id(seq, text, gen) == (f"{seq}:{digest}:g{gen}" if gen else f"{seq}:{digest}")
    assert client_id(seq, text, gen) == client_id(seq, bytes(text), gen)  # no state kept between calls
