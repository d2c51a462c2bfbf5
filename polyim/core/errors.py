"""Core errors with stable codes. Each adapter maps them to its wire codes in one table."""

from __future__ import annotations

import enum


class Code(enum.Enum):
    BAD_REQUEST = "bad_request"
    USER_NOT_FOUND = "user_not_found"
    GROUP_NOT_FOUND = "group_not_found"
    CONV_NOT_FOUND = "conv_not_found"
    MSG_NOT_FOUND = "msg_not_found"
    NOT_MEMBER = "not_member"
    NOT_PARTICIPANT = "not_participant"
    NO_PRIVILEGE = "no_privilege"
    NOT_OWNER = "not_owner"
    OWNER_CANNOT_QUIT = "owner_cannot_quit"
    GROUP_FULL = "group_full"
    NAME_TAKEN = "name_taken"
    BLOCKED = "blocked"
    MUTED = "muted"
    NOT_FRIEND = "not_friend"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    FORBIDDEN = "forbidden"
    IDENTITY_MISMATCH = "identity_mismatch"
    AUTH_FAILED = "auth_failed"
    DISABLED = "disabled"
    THROTTLED = "throttled"
    LIMIT = "limit"
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_CLOSED = "room_closed"
    ROOM_FULL = "room_full"
    NOT_IN_ROOM = "not_in_room"
    INTERNAL = "internal"


class CoreError(Exception):
    """A refusal the client should see; ``code`` is stable, ``text`` is a short English reason."""

    def __init__(self, code: Code, text: str = "") -> None:
        super().__init__(text or code.value)
        self.code = code
        self.text = text or code.value.replace("_", " ")
