"""imlc's ids are canonical decimals (imlc.md conventions): the adapter's check agrees with the rule
``[1-9][0-9]{0,18}`` at most MAX_ID for any text a client may send."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from polyim.core.ids import MAX_ID
from polyim.protocols.imlc.adapter import decimal

RULE = re.compile(r"[1-9][0-9]{0,18}")


def expected(text: str) -> int | None:
    return int(text) if RULE.fullmatch(text) and int(text) <= MAX_ID else None


@given(st.text(max_size=22) | st.from_regex(r"\A[0-9]{1,21}\Z") | st.integers(0, 2**64).map(str))
def test_decimal_is_the_rule(text: str) -> None:
    assert decimal(text) == expected(text)


def test_spellings_that_are_not_ids() -> None:
    for text in ("", "0", "01", "+1", "-1", " 1", "1 ", "1\n", "١٢", "²", "1_000", str(MAX_ID + 1), "9" * 20):
        assert decimal(text) is None, text
    assert decimal("1") == 1 and decimal(str(MAX_ID)) == MAX_ID
