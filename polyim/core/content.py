"""How a message of one kind reads in a protocol that cannot show that kind (design.md §4: every
recipient gets a message in its own protocol's form).

The protocol-neutral attributes of rich content live in ``Message.extra`` under the keys below, written
by whichever adapter received the message; every adapter that renders another protocol's rich content
reads them here, so an image sent from imlc shows as an image link in beehive, XMMEP and TeamTalk alike.
"""

from __future__ import annotations

from typing import Final

from polyim.model import ContentType, Message

MEDIA_URL: Final = "media_url"  # where the media can be fetched
FILE_NAME: Final = "file_name"  # a file's name (metadata only)
_URL_KEYS: Final = ("url", MEDIA_URL)  # "url": OMTP's rich content JSON
#: The kinds that read as their text alone, and the label of every other known kind: a message to a
#: text-only protocol is looked up here once, with no enum built or walked.
_PLAIN: Final = frozenset({int(ContentType.NONE), int(ContentType.TEXT)})
_LABELS: Final = {int(kind): f"[{kind.name.lower()}]" for kind in ContentType}


def media_url(message: Message) -> str:
    extra = message.extra or {}
    for key in _URL_KEYS:
        value = extra.get(key)
        if value:
            return str(value)
    return ""


def label(message: Message) -> str:
    """``[image]``, ``[voice]``, ``[file]`` …; empty for text."""
    ctype = message.ctype
    return "" if ctype in _PLAIN else _LABELS.get(ctype, "[message]")


def summary(message: Message) -> str:
    """One line naming the content without its URL, for a protocol with a URL field of its own:
    ``[file] <name>``, ``[location] <title>``, ``[image]`` (or ``[image] <caption>``); text as is."""
    tag = label(message)
    if not tag:
        return message.content
    detail = message.content
    if message.ctype == ContentType.FILE:
        detail = str((message.extra or {}).get(FILE_NAME) or "") or message.content
    return f"{tag} {detail}".strip()


def fallback_text(message: Message) -> str:
    """The message as text for a protocol that shows text only: the summary and the URL (``[image]
    <url>``, ``[file] <name> <url>``); text as is."""
    if not label(message):
        return message.content
    return " ".join(part for part in (summary(message), media_url(message)) if part)
