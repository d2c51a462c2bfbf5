"""beehive's ids as they are read from the wire (beehive.md §2.8, design.md §3): every request body is
decoded here, and an id field holding a value no id can have (u64 on the wire, below 2^63 here) is
refused as the "no such user / group / room" it is, so the command answers it and the connection stays.
"""

from __future__ import annotations

from typing import Any

from polyim.core.ids import IdKind, checked
from polyim.protocols.beehive import codec as c

# The id fields of the request bodies, by what they name (beehive.md §2.8: an id that names nobody gets
# the command's refusal and the connection stays). ``time`` and the counters are not ids.
_ID_KINDS = {
    "uid": IdKind.USER,
    "suid": IdKind.USER,
    "duid": IdKind.USER,
    "to": IdKind.USER,
    "gid": IdKind.GROUP,
    "rid": IdKind.ROOM,
    "sid": IdKind.OTHER,
    "msgid": IdKind.OTHER,
    "mark": IdKind.OTHER,
}
_ID_FIELDS: dict[int, tuple[tuple[str, IdKind], ...]] = {
    cmd: tuple(
        (f.name, _ID_KINDS[f.name])
        for f in cls.DESCRIPTOR.fields
        if f.name in _ID_KINDS and f.cpp_type in (f.CPPTYPE_UINT64, f.CPPTYPE_INT64)
    )
    for cmd, cls in c.BODY_TYPES.items()
}


def check_ids(cmd: int, request: Any) -> None:
    """Refuse a request whose id fields hold a value no id can have (u64 on the wire, below 2^63 here)."""
    for name, kind in _ID_FIELDS.get(cmd, ()):
        checked(getattr(request, name), kind)


def decode_request(cmd: int, body: bytes) -> Any:
    """The protobuf request of ``cmd``, its id fields checked (:func:`check_ids`)."""
    request = c.decode_body(cmd, body)
    check_ids(cmd, request)
    return request
