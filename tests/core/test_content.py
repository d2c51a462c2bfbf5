"""How a message of each kind reads in a protocol that shows text alone (design.md §4)."""

from __future__ import annotations

from typing import Any

import pytest

from polyim.core.content import MEDIA_URL, fallback_text, label, media_url, summary
from polyim.model import ContentType, ConvId, Message


def _message(ctype: int, content: str, extra: dict[str, Any] | None = None) -> Message:
    return Message(ConvId.peer(1, 2), 1, 10, 1, "d", "c", ctype, content, 0, extra=extra)


@pytest.mark.parametrize(
    ("ctype", "expected"),
    [
        (ContentType.NONE, ""),
        (ContentType.TEXT, ""),
        (ContentType.IMAGE, "[image]"),
        (ContentType.VOICE, "[voice]"),
        (ContentType.VIDEO, "[video]"),
        (ContentType.FILE, "[file]"),
        (ContentType.LOCATION, "[location]"),
        (99, "[message]"),
        (-1, "[message]"),
    ],
)
def test_every_kind_has_its_label_and_an_unknown_one_a_generic_label(ctype: int, expected: str) -> None:
    assert label(_message(int(ctype), "x")) == expected


def test_text_reads_as_itself_and_media_as_its_label_and_url() -> None:
    assert fallback_text(_message(ContentType.TEXT, "hello")) == "hello"
    image = _message(ContentType.IMAGE, "", {MEDIA_URL: "https://m.example/1.png"})
    assert media_url(image) == "https://m.example/1.png"
    assert fallback_text(image) == "[image] https://m.example/1.png"
    assert summary(_message(99, "")) == "[message]"
