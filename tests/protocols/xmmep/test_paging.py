"""The adapter's paging and splitting rules of xmmep.md §2.6, on the messages it builds."""

from __future__ import annotations

from polyim.protocols.xmmep import codec as c
from polyim.protocols.xmmep.adapter import pages, search_pages, split_170


def _decoded(packets: list[bytes]) -> list[c.Message]:
    return [c.decode_body(c.decode_datagram(p)) for p in packets]


def test_a_list_is_paged_by_its_limit_and_seq_num_counts_from_1() -> None:
    buddies = [c.Buddy(f"user{i}", "Friends", "") for i in range(35)]
    out = _decoded(pages(115, buddies, 30))
    assert [(m.num("seq_num"), m.num("count")) for m in out] == [(1, 30), (2, 5)]
    assert [b.buddy_name for m in out for b in m.structs("buddy_list") if isinstance(b, c.Buddy)] == [
        f"user{i}" for i in range(35)
    ]


def test_an_empty_list_is_still_one_packet() -> None:
    assert pages(116, [], 90) == [b"   3 1161\x010"]


def test_long_items_make_smaller_packets_that_fit() -> None:
    groups = ["g" * 200 + str(i) for i in range(20)]
    packets = pages(114, groups, 60)
    assert all(len(p) <= c.MAX_MESSAGE for p in packets) and len(packets) == 3
    assert [g for m in _decoded(packets) for g in m.strings("groups")] == groups


def test_search_results_come_in_tens_and_a_final_empty_packet_after_a_multiple_of_ten() -> None:
    infos = [c.UserInfo(f"u{i}", "n" * 140) for i in range(20)]
    out = _decoded(search_pages(infos))
    assert [(m.num("seq_num"), m.num("count")) for m in out] == [(1, 10), (2, 10), (3, 0)]
    assert all(len(p) <= c.MAX_MESSAGE for p in search_pages(infos))  # nicknames cut to fit
    assert [m.num("count") for m in _decoded(search_pages([]))] == [0]


def test_a_long_170_is_split_at_character_boundaries_with_part() -> None:
    text = "é" * 1500  # 3000 bytes
    parts = split_170("alice", "bob", 1, text, 0, 42)
    assert len(parts) == 3 and all(len(p) <= c.MAX_MESSAGE for p in parts)
    decoded = _decoded(parts)
    assert "".join(m.text("content") for m in decoded) == text
    assert [m.ext for m in decoded] == [[("mid", "42"), ("part", f"{i}/3")] for i in (1, 2, 3)]
    assert split_170("a", "b", 1, "short", 0, None) == [c.encode(170, ["a", "b", 1, "short", 0])]
