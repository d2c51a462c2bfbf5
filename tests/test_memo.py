"""polyim.memo: a memo table is bounded, and keeps what was last put in it."""

from __future__ import annotations

from polyim.memo import MEMO_LIMIT, remember


def test_a_full_memo_is_emptied_before_the_next_entry() -> None:
    memo: dict[int, str] = {}
    for i in range(MEMO_LIMIT):
        assert remember(memo, i, str(i)) == str(i)
    assert len(memo) == MEMO_LIMIT and memo[0] == "0"
    assert remember(memo, -1, "new") == "new"
    assert memo == {-1: "new"}
