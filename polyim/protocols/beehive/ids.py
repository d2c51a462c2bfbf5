"""beehive's ids as they are read from the wire (beehive.md §2.8, design.md §3): every request body is
decoded here, and an id field holding a value no id can have (u64 on the wire, below 2^63 here) is
refused as the "no such user / group / room" it is, so the command answers it and the connection stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from polyim.core.ids import MAX_ID, IdKind, checked
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


def request_decoder(cmd: int) -> Callable[[bytes], Any]:
    """The decoder of ``cmd``'s request body: the protobuf message, then each of its id fields
    checked against what an id can be (u64 on the wire, below 2^63 here). Built once per command,
    with the fields looked up then: it runs for every frame."""
    fields = _ID_FIELDS[cmd]

    def decode(body: bytes) -> Any:
        request = c.decode_request(cmd, body)
        for name, kind in fields:
            value = getattr(request, name)
            if not 0 <= value <= MAX_ID:
                checked(value, kind)
        return request

    return decode
