"""What an id or a name from the network must be before anything else looks at it.

Every protocol and the HTTP layer pass ids and names through these functions where they enter, so
that one rule holds everywhere: an id the store cannot hold (design.md §3: uids, gids and rids are
below 2^63, SQLite's signed INTEGER) is answered as the "no such user / group / room" it is, and a
name with a control character or half a UTF-16 surrogate pair is refused before it can reach a log
line, a database text column or another protocol's encoder.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import Final

from polyim.core.errors import Code, CoreError

#: (1 << 63) - 1, the largest id a signed 64-bit column holds. Written as a literal and Final so that the
#: compiled modules that check ids against it (a few per message) hold it as a constant: this module is
#: not compiled, and a name imported from it is otherwise a dict lookup at each use.
MAX_ID: Final = 9_223_372_036_854_775_807


class IdKind(enum.Enum):
    """What an id names; an out-of-range id of each kind gets that kind's own refusal."""

    USER = Code.USER_NOT_FOUND
    GROUP = Code.GROUP_NOT_FOUND
    ROOM = Code.ROOM_NOT_FOUND
    OTHER = Code.BAD_REQUEST  # a device, a message, a sequence number


def storable(value: int) -> bool:
    """True for an id the store can hold (0 included: several wires use it for "none")."""
    return 0 <= value <= MAX_ID


def checked(value: int, kind: IdKind) -> int:
    """``value``, or the refusal of its kind when no such id can exist."""
    if 0 <= value <= MAX_ID:
        return value
    raise CoreError(kind.value, f"no such {kind.name.lower()}")


def bad_name(name: str) -> bool:
    """True for a name no user may pick: a control character (NUL, tab, newline, DEL …), a line or
    paragraph separator, or an unpaired surrogate (which cannot be encoded as UTF-8, so it would fail
    in the store or in another protocol's encoder rather than here)."""
    return any(unicodedata.category(ch) in _REFUSED for ch in name)


_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_name(name: str, what: str = "name") -> str:
    """``name``, or a bad-request refusal (see :func:`bad_name`)."""
    if bad_name(name):
        raise CoreError(Code.BAD_REQUEST, f"bad {what}")
    return name
