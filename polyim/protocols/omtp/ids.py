"""OMTP's names for polyim ids (omtp.md §5.3.1, §9.1): the only place they are spelled, and read.

A decimal id the store cannot hold (above :data:`polyim.core.ids.MAX_ID`) reads as no id at all, so the
command answers it as it answers any id that names nobody."""

from __future__ import annotations

import functools
import re

from polyim.core.ids import MAX_ID
from polyim.model import ConvId, ConvKind, Message

_UID_DIGITS = 20
_GROUP = re.compile(r"^GC_([1-9][0-9]{0,19})$")
_PAIR = re.compile(r"_([0-9]{1,20})_([0-9]{1,20})$")


@functools.lru_cache(maxsize=1 << 16)  # every 1:1 message names two: its sender and its recipient
def parse_uid(text: str) -> int | None:
    """A decimal uid without sign, space or leading zero, by string tests: cheaper than a pattern."""
    if not (0 < len(text) <= _UID_DIGITS and text.isascii() and text.isdigit()) or text[0] == "0":
        return None
    value = int(text)
    return value if value <= MAX_ID else None  # ASCII digits only: no sign


@functools.lru_cache(maxsize=1 << 16)  # every receipt names its conversation by text
def parse_gid(text: str) -> int | None:
    m = _GROUP.match(text)
    if not m:
        return None
    value = int(m.group(1))
    return value if value <= MAX_ID else None  # the pattern has no sign


def group_id(gid: int) -> str:
    return f"GC_{gid}"


@functools.lru_cache(maxsize=1 << 16)  # every delivery and every ack of a 1:1 message names it
def peer_session_id(a: int, b: int) -> str:
    """``LP_G1_<x>_<y>`` with x the smaller of the two decimal uids by byte-wise string comparison."""
    x, y = sorted((str(a), str(b)))
    return f"LP_G1_{x}_{y}"


def canonical(conv: ConvId, topic: str = "") -> str:
    if conv.kind is ConvKind.GROUP:
        return group_id(conv.a)
    if conv.kind is ConvKind.PEER:
        return peer_session_id(conv.a, conv.b)
    return topic


def message_session_id(message: Message) -> str:
    return canonical(message.conv, message.topic)


@functools.lru_cache(maxsize=1 << 16)
def pair_of(session_id: str) -> tuple[int, int] | None:
    """The two uids at the end of a single-chat sessionId (``LP_G1_a_b``, ``SC_b_a`` …)."""
    m = _PAIR.search(session_id)
    if not m:
        return None
    a, b = int(m.group(1)), int(m.group(2))
    return (a, b) if a <= MAX_ID and b <= MAX_ID else None


def is_chat_shaped(session_id: str) -> bool:
    """A sessionId that names a group or a single chat and so may not be a notification topic."""
    return parse_gid(session_id) is not None or pair_of(session_id) is not None
