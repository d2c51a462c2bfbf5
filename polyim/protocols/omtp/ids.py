"""OMTP's names for polyim ids (omtp.md §5.3.1, §9.1): the only place they are spelled, and read.

A decimal id the store cannot hold (above :data:`polyim.core.ids.MAX_ID`) reads as no id at all, so the
command answers it as it answers any id that names nobody."""

from __future__ import annotations

import re
from typing import Final

from polyim.core.ids import MAX_ID
from polyim.memo import remember
from polyim.model import ConvId, ConvKind, Message

_UID_DIGITS: Final = 20
_GROUP: Final = re.compile(r"^GC_([1-9][0-9]{0,19})$")
_PAIR: Final = re.compile(r"_([0-9]{1,20})_([0-9]{1,20})$")


# Memo tables (polyim.memo): -1 marks a miss, as no parse yields it. Only texts that can parse are kept,
# so a client's made-up long names are refused without being remembered.
_UIDS: Final[dict[str, int | None]] = {}
_GIDS: Final[dict[str, int | None]] = {}
_PAIRS: Final[dict[str, tuple[int, int] | None]] = {}
_PEER_SESSION_IDS: Final[dict[tuple[int, int], str]] = {}
_MAX_SESSION_ID: Final = 64  # LP_G1_ and two 20-digit uids, with room for the SDK's other single-chat shapes


def parse_uid(text: str) -> int | None:
    """A decimal uid without sign, space or leading zero. Every 1:1 message names two: its sender and
    its recipient."""
    uid = _UIDS.get(text, -1)
    if uid != -1:
        return uid
    if not (0 < len(text) <= _UID_DIGITS and text.isascii() and text.isdigit()) or text[0] == "0":
        return None
    value = int(text)
    return remember(_UIDS, text, value if value <= MAX_ID else None)  # ASCII digits only: no sign


def parse_gid(text: str) -> int | None:
    """The gid of ``GC_<gid>``. Every receipt of a group message names its conversation by text."""
    gid = _GIDS.get(text, -1)
    if gid != -1:
        return gid
    if not text.startswith("GC_"):  # every 1:1 receipt's LP_G1_…: no pattern match to fail
        return None
    m = _GROUP.match(text)
    if not m:
        return None
    value = int(m.group(1))
    return remember(_GIDS, text, value if value <= MAX_ID else None)  # the pattern has no sign


def group_id(gid: int) -> str:
    return f"GC_{gid}"


def peer_session_id(a: int, b: int) -> str:
    """``LP_G1_<x>_<y>`` with x the smaller of the two decimal uids by byte-wise string comparison.
    Every delivery and every ack of a 1:1 message names it."""
    key = (a, b)
    name = _PEER_SESSION_IDS.get(key)
    if name is None:
        x, y = sorted((str(a), str(b)))
        name = remember(_PEER_SESSION_IDS, key, f"LP_G1_{x}_{y}")
    return name


def canonical(conv: ConvId, topic: str = "") -> str:
    if conv.kind is ConvKind.GROUP:
        return group_id(conv.a)
    if conv.kind is ConvKind.PEER:
        return peer_session_id(conv.a, conv.b)
    return topic


def message_session_id(message: Message) -> str:
    return canonical(message.conv, message.topic)


def pair_of(session_id: str) -> tuple[int, int] | None:
    """The two uids at the end of a single-chat sessionId (``LP_G1_a_b``, ``SC_b_a`` …)."""
    if session_id in _PAIRS:
        return _PAIRS[session_id]
    m = _PAIR.search(session_id)
    if not m:
        return None
    a, b = int(m.group(1)), int(m.group(2))
    pair = (a, b) if a <= MAX_ID and b <= MAX_ID else None
    return remember(_PAIRS, session_id, pair) if len(session_id) <= _MAX_SESSION_ID else pair


def is_chat_shaped(session_id: str) -> bool:
    """A sessionId that names a group or a single chat and so may not be a notification topic."""
    return parse_gid(session_id) is not None or pair_of(session_id) is not None
