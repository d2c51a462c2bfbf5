"""XMMEP wire codec: the 8-byte ASCII header and the delimited text bodies (xmmep.md §2, §3).

Sans-I/O: bytes in, :class:`Frame` and :class:`Message` objects out, and back; no socket, loop or clock
lives here, so the server, the test client and ``polyim bench`` can share it. Plain typed functions and
classes only, so that mypyc can compile the module.

* :class:`Decoder` frames a TCP stream (§2.1, §2.7); :func:`decode_datagram` checks one UDP datagram.
  A bad header ends the stream: :class:`XmmepDecodeError` with ``fatal`` set.
* :func:`decode_body` splits a body at any of the bytes 0x01–0x04 and consumes the tokens by the
  message's schema (the original decoder is flat, §2.3): missing trailing tokens take their defaults,
  tokens after the schema are extension fields (§2.4). A malformed body (NUL inside, a bad number,
  ``count`` above 1000) raises :class:`XmmepDecodeError` with ``fatal`` unset: the adapter answers it.
* :func:`encode` writes a message: no trailing delimiter, an empty list drops the delimiter before it,
  111/113/191 stop after a failed result, bytes 0x00–0x04 in strings become spaces (§2.3, §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from librt.strings import BytesWriter
from mypy_extensions import i64, u8

from polyim.memo import remember
from polyim.protocols.base import ProtocolError, joined

HEADER_SIZE: Final = 8
MAX_MESSAGE: Final = 1450  # header included (§2.6)
MAX_BODY: Final = MAX_MESSAGE - HEADER_SIZE
MAX_COUNT: Final = 1000  # a ``count`` above this is malformed (§2.3)
MAX_DIGITS: Final = 20

SOH: Final = b"\x01"
STX: Final = b"\x02"
ETX: Final = b"\x03"
EOT: Final = b"\x04"

#: The four delimiters made one, for a plain ``split`` (§2.2: the level of a delimiter matters only to
#: the schema, which knows it).
_ONE_DELIMITER: Final = bytes.maketrans(b"\x02\x03\x04", b"\x01\x01\x01")
_FORBIDDEN: Final = bytes.maketrans(b"\x00\x01\x02\x03\x04", b"     ")


class Code:
    """The message codes of §3.0 (plain ints, so that any code in 100…999 can travel)."""

    REGISTER_REQ: Final = 100
    REGISTER_RES: Final = 101
    ACTIVATE_REQ: Final = 102
    ACTIVATE_RES: Final = 103
    USER_REGISTERED: Final = 104
    USER_INFO_UPDATED: Final = 108
    GET_LOGIN_INFO_REQ: Final = 110
    GET_LOGIN_INFO_RES: Final = 111
    LOGIN_REQ: Final = 112
    LOGIN_RES1: Final = 113
    LOGIN_RES2: Final = 114
    LOGIN_RES3: Final = 115
    LOGIN_RES4: Final = 116
    LOGIN_RES5: Final = 117
    LOGIN_RES6: Final = 118
    LOGIN_RES_END: Final = 127
    CLIENT_READY: Final = 128
    BUDDY_LOGIN: Final = 130
    BUDDY_LOGIN_FWD: Final = 131
    SESSION_REPORT: Final = 133
    STATUS_CHANGED: Final = 135
    STATUS_CHANGED_FWD: Final = 136
    GROUP_ADDED: Final = 140
    GROUP_REMOVED: Final = 141
    GROUP_RENAME: Final = 142
    ADD_BUDDY_REQ: Final = 150
    ADD_BUDDY_RES: Final = 151
    BUDDIED: Final = 152
    BUDDIED_RES: Final = 153
    BUDDY_REMOVED: Final = 154
    BUDDY_MODIFIED: Final = 155
    BUDDY_BLOCKED: Final = 156
    BUDDY_UNBLOCKED: Final = 157
    TXT_MSG: Final = 170
    TXT_MSG_RES: Final = 171
    TXT_MSG_RECV: Final = 172
    SEND_FILE_REQ: Final = 180
    SEND_FILE_REQ_FWD: Final = 181
    SEND_FILE_RES: Final = 182
    SEND_FILE_RES_FWD: Final = 183
    GET_BUDDY_INFO_REQ: Final = 190
    GET_BUDDY_INFO_RES: Final = 191
    FIND_BUDDIES_REQ: Final = 195
    FIND_BUDDIES_RES: Final = 196
    KEEP_ALIVE: Final = 200
    ERROR_REPORT: Final = 900


class Result:
    """Result codes of §4.1 (17–20 are polyim's extensions)."""

    SUCCESS: Final = 0
    ERROR: Final = 1
    PARAM_ERROR: Final = 2
    DATABASE_ERROR: Final = 4
    SERVER_BUSY: Final = 5
    TIME_OUT: Final = 7
    NO_SUCH_USER: Final = 8
    USER_EXISTS: Final = 9
    MAIL_IN_USE: Final = 10
    USER_MAIL_EXISTS: Final = 11
    PASSWD_MISMATCH: Final = 12
    ACTIVATE_CODE_MISMATCH: Final = 13
    USER_NOT_ACTIVATED: Final = 14
    EXPIRED_SESSION: Final = 15
    DUPLICATE_SESSION: Final = 16
    NOT_ALLOWED: Final = 17
    BLOCKED: Final = 18
    NO_SUCH_ROOM: Final = 19
    RATE_LIMITED: Final = 20


class XmmepDecodeError(ProtocolError):
    """Bytes XMMEP cannot accept. ``fatal``: the header was bad, the stream (or datagram) is lost (§2.8
    rows 1–3); otherwise the body of ``code`` was malformed and deserves result 2. ``frames`` are the
    whole frames a :meth:`Decoder.feed` call framed before the bad header."""

    def __init__(self, reason: str, *, fatal: bool, code: int = 0, frames: tuple[Frame, ...] = ()) -> None:
        super().__init__(reason)
        self.fatal = fatal
        self.code = code
        self.frames = frames


@dataclass(frozen=True, slots=True)
class Frame:
    """One framed message: its code and its undecoded body."""

    code: int
    body: bytes

    def __init__(self, code: int, body: bytes) -> None:
        """Written out, not generated: mypyc compiles these stores into native ones (about 30 ns) where
        the generated frozen ``__init__`` runs interpreted (about 1 µs); every message makes several."""
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "body", body)


# -- structs (§3.1) -----------------------------------------------------------------------------------
@dataclass(slots=True)
class UserInfo:
    """Seed order; ``birthday`` and ``last_login_time`` in seconds since 1970."""

    user_name: str = ""
    nickname: str = ""
    personal_msg: str = ""
    email: str = ""
    avatar: str = ""
    birthday: int = 0
    location: str = ""
    last_login_time: int = 0
    gender: int = 0


@dataclass(slots=True)
class Buddy:
    buddy_name: str = ""
    group_name: str = ""
    display_name: str = ""


@dataclass(slots=True)
class OnlineBuddy:
    buddy_name: str = ""
    group_name: str = ""
    display_name: str = ""
    personal_message: str = ""
    avatar: str = ""
    ip: str = ""
    port: int = 0
    status: int = 0


@dataclass(slots=True)
class Chatroom:
    """Defined by the seed, used by no message (§3.1): kept for completeness, never sent."""

    room_name: str = ""
    creator: str = ""
    announce: str = ""


Struct = UserInfo | Buddy | OnlineBuddy | Chatroom
Value = str | int | bool | Struct | list[str] | list[Struct] | list[tuple[int, str]]


# -- field kinds and schemas -----------------------------------------------------------------------------
class Kind:
    STR: Final = 0
    INT: Final = 1  # signed, at most 20 digits (Int, Enum, count, seq_num)
    UINT: Final = 2  # unsigned
    BYTE: Final = 3  # 0…255 (results)
    BOOL: Final = 4  # 1/0; any non-zero is true, empty is false
    PORT: Final = 5  # a Short port: −32768…65535, a negative n read as n + 65536
    USER_INFO: Final = 10
    BUDDY: Final = 11
    ONLINE_BUDDY: Final = 12
    LIST_STR: Final = 20  # each list and dict takes its length from the field before it
    LIST_USER_INFO: Final = 21
    LIST_BUDDY: Final = 22
    LIST_ONLINE_BUDDY: Final = 23
    DICT: Final = 24  # Dict<SearchCondition, Str>


_NUMERIC: Final = frozenset({Kind.INT, Kind.UINT, Kind.BYTE, Kind.BOOL, Kind.PORT})
_LISTS: Final = frozenset(
    {Kind.LIST_STR, Kind.LIST_USER_INFO, Kind.LIST_BUDDY, Kind.LIST_ONLINE_BUDDY, Kind.DICT}
)

S, N, U, B, F, P = Kind.STR, Kind.INT, Kind.UINT, Kind.BYTE, Kind.BOOL, Kind.PORT
_PAGE = (("seq_num", N), ("count", N))

#: Field names and kinds in wire order, by code (§3.2–§3.13).
SCHEMAS: Final[dict[int, tuple[tuple[str, int], ...]]] = {
    100: (
        ("user_name", S),
        ("password", S),
        ("email", S),
        ("nickname", S),
        ("personal_msg", S),
        ("birthdate", S),
        ("location", S),
        ("gender", F),
    ),
    101: (("result", B),),
    102: (("user_name", S), ("activate_code", S)),
    103: (("result", B),),
    108: (("user_name", S), ("user_info", Kind.USER_INFO), ("password", S)),
    110: (("user_name", S),),
    111: (("result", B), ("server_ip", S), ("server_port", P)),
    112: (("user_name", S), ("password", S), ("login_status", N)),
    113: (("result", B), ("user_info", Kind.USER_INFO)),
    114: (*_PAGE, ("groups", Kind.LIST_STR)),
    115: (*_PAGE, ("buddy_list", Kind.LIST_BUDDY)),
    116: (*_PAGE, ("blocked_users", Kind.LIST_STR)),
    117: (*_PAGE, ("room_list", Kind.LIST_STR)),
    118: (*_PAGE, ("buddy_list", Kind.LIST_ONLINE_BUDDY)),
    127: (),
    128: (("user_name", S),),
    130: (("observer", S), ("buddy", Kind.ONLINE_BUDDY)),
    133: (("result", B),),
    135: (("user_name", S), ("status", N)),
    136: (("observer", S), ("user_name", S), ("status", N)),
    140: (("user_name", S), ("new_group", S)),
    141: (("user_name", S), ("group_name", S)),
    142: (("user_name", S), ("group_name", S), ("new_name", S)),
    150: (("user_name", S), ("buddy", Kind.BUDDY), ("is_room_member", F)),
    151: (("user_name", S), ("result", F), ("buddy", Kind.ONLINE_BUDDY), ("is_room_member", F)),
    152: (("user_name", S), ("buddy", Kind.ONLINE_BUDDY)),
    153: (("user_name", S), ("buddy", Kind.ONLINE_BUDDY), ("is_add", F)),
    154: (("user_name", S), ("buddy_group", S), ("buddy_name", S), ("is_room_member", F)),
    155: (
        ("user_name", S),
        ("buddy_name", S),
        ("display_name", S),
        ("old_group_name", S),
        ("new_group_name", S),
    ),
    156: (("user_name", S), ("buddy_name", S)),
    157: (("user_name", S), ("buddy_name", S), ("group_name", S)),
    170: (("sender", S), ("receiver", S), ("send_time", N), ("content", S), ("is_room_msg", F)),
    171: (
        ("user_name", S),
        ("result", B),
        ("receiver", S),
        ("is_room_msg", F),
        ("send_time", N),
        ("client_msg_id", S),
        ("msg_id", S),
        ("server_time", N),
    ),
    172: (("user_name", S), ("count", N), ("msg_ids", Kind.LIST_STR)),
    180: (
        ("sender", S),
        ("receiver", S),
        ("file_name", S),
        ("file_size", U),
        ("transfer_seq", U),
        ("is_image", F),
    ),
    181: (
        ("sender", S),
        ("receiver", S),
        ("file_name", S),
        ("file_size", U),
        ("transfer_seq", U),
        ("is_image", F),
        ("sender_ip", S),
        ("sender_port", P),
    ),
    182: (("sender", S), ("receiver", S), ("transfer_seq", U), ("result", F)),
    183: (
        ("sender", S),
        ("receiver", S),
        ("transfer_seq", U),
        ("result", F),
        ("receiver_ip", S),
        ("receiver_port", P),
    ),
    190: (("user_name", S), ("buddy_name", S)),
    191: (("user_name", S), ("result", B), ("buddy_info", Kind.USER_INFO)),
    195: (("user_name", S), ("condition_count", N), ("conditions", Kind.DICT)),
    196: (*_PAGE, ("buddies", Kind.LIST_USER_INFO)),
    200: (("user_name", S),),
    # The original code's peer-to-peer and offline-file codes (§3.12): decoded for the log, ignored.
    800: (("user_name", S), ("nickname", S), ("avatar", S), ("personal_msg", S)),
    801: (("user_name", S), ("nickname", S), ("avatar", S), ("personal_msg", S)),
    805: (("user_name", S), ("nickname", S), ("avatar", S), ("personal_msg", S)),
    811: (("sender", S), ("file_id", U), ("transfer_id", U)),
    812: (("sender", S), ("transfer_id", U)),
    900: (("result", B), ("refused_code", N), ("detail", S)),
}
SCHEMAS[104] = SCHEMAS[100]
#: Where each named field sits in its code's schema: a field read is one lookup, not a walk of the schema.
_FIELD_INDEX: Final[dict[int, dict[str, int]]] = {
    code: {name: index for index, (name, _) in enumerate(schema)} for code, schema in SCHEMAS.items()
}

_NO_FIELDS: Final[dict[str, int]] = {}

#: Each code's field kinds in wire order, and the codes whose fields are all scalars (chat among them):
#: those are read by index (:func:`_decode_flat`), without the cursor that structs and lists need.
_KINDS: Final[dict[int, tuple[int, ...]]] = {
    code: tuple(kind for _, kind in schema) for code, schema in SCHEMAS.items()
}
_FLAT: Final[frozenset[int]] = frozenset(
    code for code, kinds in _KINDS.items() if all(kind < Kind.USER_INFO for kind in kinds)
)

#: Replies that stop after their ``result`` field when it is not success (§2.3 rule 7): code → index.
TRUNCATED: Final[dict[int, int]] = {111: 0, 113: 0, 191: 1}

_STRUCT_SIZES: Final = {Kind.USER_INFO: 9, Kind.BUDDY: 3, Kind.ONLINE_BUDDY: 8}
_ELEMENT: Final = {
    Kind.LIST_USER_INFO: Kind.USER_INFO,
    Kind.LIST_BUDDY: Kind.BUDDY,
    Kind.LIST_ONLINE_BUDDY: Kind.ONLINE_BUDDY,
}


@dataclass(slots=True)
class Message:
    """A decoded body: ``fields`` in schema order, ``ext`` the extension fields in wire order."""

    code: int
    fields: list[Value]
    ext: list[tuple[str, str]] = field(default_factory=list)
    #: Where each field sits, by its name (the code's entry of :data:`_FIELD_INDEX`): a chat message's
    #: fields are read about ten times, each one lookup rather than two.
    index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __init__(self, code: int, fields: list[Value], ext: list[tuple[str, str]] | None = None) -> None:
        self.code = code  # written out to be compiled (see Frame)
        self.fields = fields
        self.ext = [] if ext is None else ext
        self.index = _FIELD_INDEX.get(code, _NO_FIELDS)

    def _at(self, name: str) -> Value:
        return self.fields[self.index[name]]

    def text(self, name: str) -> str:
        value = self._at(name)
        assert isinstance(value, str)
        return value

    def num(self, name: str) -> int:
        value = self._at(name)
        assert isinstance(value, int)
        return int(value)

    def flag(self, name: str) -> bool:
        return bool(self.num(name))

    def user_info(self, name: str) -> UserInfo:
        value = self._at(name)
        assert isinstance(value, UserInfo)
        return value

    def buddy(self, name: str) -> Buddy:
        value = self._at(name)
        assert isinstance(value, Buddy)
        return value

    def online_buddy(self, name: str) -> OnlineBuddy:
        value = self._at(name)
        assert isinstance(value, OnlineBuddy)
        return value

    def strings(self, name: str) -> list[str]:
        value = self._at(name)
        assert isinstance(value, list)
        return [v for v in value if isinstance(v, str)]

    def pairs(self, name: str) -> list[tuple[int, str]]:
        value = self._at(name)
        assert isinstance(value, list)
        return [v for v in value if isinstance(v, tuple)]

    def structs(self, name: str) -> list[Struct]:
        value = self._at(name)
        assert isinstance(value, list)
        return [v for v in value if not isinstance(v, (str, tuple))]

    def extension(self, key: str) -> str | None:
        """The value of the extension field ``key`` (the first one), None when absent."""
        for known, value in self.ext:
            if known == key:
                return value
        return None


# -- framing (§2.1, §2.7) --------------------------------------------------------------------------------
#: ``b"%4d" % n`` for every n a header holds when the message fits MAX_MESSAGE (and every code):
#: two list reads instead of a bytes formatting, for every frame written.
_PADDED: Final = [b"%4d" % n for n in range(MAX_MESSAGE)]
#: Headers already parsed, by their 8 bytes: a chat repeats a handful of (length, code) pairs.
_HEADERS: Final[dict[bytes, tuple[int, int]]] = {}


def encode_header(length: int, code: int) -> bytes:
    if 0 <= length < MAX_MESSAGE and 0 <= code < MAX_MESSAGE:
        return _PADDED[length] + _PADDED[code]
    return b"%4d%4d" % (length, code)


def parse_header(header: bytes) -> tuple[int, int]:
    """``(BodyLength, MessageType)`` of 8 header bytes; a bad header raises a fatal error."""
    known = _HEADERS.get(header)
    if known is not None:
        return known
    # Each half is 1-4 digits padded with spaces: stripped, only digits may be left (no sign, no inner
    # space), which ``int`` alone would not check.
    length_slice, code_slice = header[:4].strip(b" "), header[4:8].strip(b" ")
    if not length_slice.isdigit() or not code_slice.isdigit():
        raise XmmepDecodeError(f"bad header {header!r}", fatal=True)
    length, code = int(length_slice), int(code_slice)
    if length > MAX_BODY:
        raise XmmepDecodeError(f"body length {length} over {MAX_BODY}", fatal=True)
    if code < 100:
        raise XmmepDecodeError(f"message type {code} out of range", fatal=True)
    return remember(_HEADERS, header, (length, code)) if len(header) == HEADER_SIZE else (length, code)


class Decoder:
    """Frames a TCP byte stream: ``feed(data)`` returns the whole frames it completes. After a bad
    header the stream is lost: every later call raises again.

    Frames are cut from the read itself when nothing is buffered (the common case: a read holds whole
    frames). Bytes of an incomplete frame wait in a ``bytearray`` with the length they must reach
    (``_need``), so a frame that trickles in is neither rescanned nor copied more than once."""

    __slots__ = ("_broken", "_buffer", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._broken = ""
        self._need = HEADER_SIZE

    def feed(self, data: bytes) -> list[Frame]:
        if self._broken:
            raise XmmepDecodeError(self._broken, fatal=True)
        whole = joined(self._buffer, data, self._need)
        if whole is None:
            return []
        data = whole
        frames: list[Frame] = []
        start, size = 0, len(data)
        self._need = HEADER_SIZE
        while size - start >= HEADER_SIZE:
            try:
                length, code = parse_header(data[start : start + HEADER_SIZE])
            except XmmepDecodeError as exc:
                self._broken = str(exc)
                raise XmmepDecodeError(self._broken, fatal=True, frames=tuple(frames)) from None
            end = start + HEADER_SIZE + length
            if end > size:
                self._need = HEADER_SIZE + length
                break
            frames.append(Frame(code, data[start + HEADER_SIZE : end]))
            start = end
        if start < size:
            self._buffer += memoryview(data)[start:]
        return frames


def decode_datagram(data: bytes) -> Frame:
    """One UDP datagram as one message (§2.7): the header's length is the rest of the datagram, or the
    rest but one trailing NUL. Anything else raises a fatal error (the datagram is dropped)."""
    size = len(data)
    if size < HEADER_SIZE or size > MAX_MESSAGE:
        raise XmmepDecodeError(f"datagram of {size} bytes", fatal=True)
    length, code = parse_header(data[:HEADER_SIZE])
    if length == size - HEADER_SIZE:
        return Frame(code, data[HEADER_SIZE:])
    if length == size - HEADER_SIZE - 1 and data[-1] == 0:
        return Frame(code, data[HEADER_SIZE:-1])
    raise XmmepDecodeError(f"datagram of {size} bytes says body {length}", fatal=True)


# -- bodies: decoding (§2.2, §2.3) -------------------------------------------------------------------------
def decode_text(raw: bytes) -> str:
    """UTF-8, else GB18030, else UTF-8 with replacement characters (§2.5)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def parse_number(raw: bytes, kind: int, code: int = 0) -> int:
    """A decimal field of ``kind``; spaces around it are allowed, an empty Bool is false."""
    value = _decimal(raw)
    if value is None:
        if kind == Kind.BOOL and not raw.strip(b" "):
            return 0
        raise XmmepDecodeError(f"bad number {raw[:24]!r}", fatal=False, code=code)
    if kind == Kind.BOOL:
        return 1 if value else 0
    if kind == Kind.BYTE and not 0 <= value <= 255:
        raise XmmepDecodeError(f"byte {value} out of range", fatal=False, code=code)
    if kind == Kind.UINT and value < 0:
        raise XmmepDecodeError(f"unsigned {value} is negative", fatal=False, code=code)
    if kind == Kind.PORT:
        if not -32768 <= value <= 65535:
            raise XmmepDecodeError(f"port {value} out of range", fatal=False, code=code)
        return value + 65536 if value < 0 else value
    return value


def _decimal(raw: bytes) -> int | None:
    """``-?[0-9]{1,20}`` between spaces, read digit by digit: compiled, a fifth of the time of a strip,
    a check and ``int`` (each of which copied the bytes), and a chat message has two; None if it is not
    one."""
    start, end = 0, len(raw)
    while start < end and raw[start] == 32:
        start += 1
    while end > start and raw[end - 1] == 32:
        end -= 1
    negative = start < end and raw[start] == 45
    i = start + 1 if negative else start
    if i == end or end - i > 20:
        return None
    value = 0
    while i < end:
        digit = raw[i] - 48
        if digit < 0 or digit > 9:
            return None
        value = value * 10 + digit
        i += 1
    return -value if negative else value


def _is_number(raw: bytes) -> bool:
    return _decimal(raw) is not None


class _Tokens:
    """The body's tokens and a cursor; a token past the end reads as empty (a missing trailing field)."""

    __slots__ = ("code", "items", "pos", "short")

    def __init__(self, code: int, items: list[bytes]) -> None:
        self.code = code
        self.items = items
        self.pos = 0
        self.short = False  # a schema field was missing: no extension fields then (§2.3)

    def take(self) -> tuple[bytes, bool]:
        """The next token and whether it was present."""
        if self.pos < len(self.items):
            token = self.items[self.pos]
            self.pos += 1
            return token, True
        self.short = True
        return b"", False

    def scalar(self, kind: int) -> str | int:
        raw, present = self.take()
        if kind == Kind.STR:
            return decode_text(raw)
        return parse_number(raw, kind, self.code) if present else 0

    def text(self) -> str:
        return decode_text(self.take()[0])

    def number(self, kind: int = Kind.INT) -> int:
        raw, present = self.take()
        return parse_number(raw, kind, self.code) if present else 0


def _user_info(tokens: _Tokens) -> UserInfo:
    """Seed order, or the original code's (location before birthday) when member 6 is not a number and
    member 7 is (§3.1)."""
    info = UserInfo(tokens.text(), tokens.text(), tokens.text(), tokens.text(), tokens.text())
    sixth, _ = tokens.take()
    seventh, _ = tokens.take()
    if not _is_number(sixth) and sixth.strip(b" ") and _is_number(seventh):
        birthday_raw, location_raw = seventh, sixth
    else:
        birthday_raw, location_raw = sixth, seventh
    info.birthday = parse_number(birthday_raw, Kind.INT, tokens.code) if birthday_raw else 0
    info.location = decode_text(location_raw)
    info.last_login_time = tokens.number()
    info.gender = tokens.number(Kind.BYTE)
    return info


def _struct(tokens: _Tokens, kind: int) -> Struct:
    if kind == Kind.USER_INFO:
        return _user_info(tokens)
    if kind == Kind.BUDDY:
        return Buddy(tokens.text(), tokens.text(), tokens.text())
    buddy = OnlineBuddy(
        tokens.text(), tokens.text(), tokens.text(), tokens.text(), tokens.text(), tokens.text()
    )
    buddy.port = tokens.number(Kind.PORT)
    buddy.status = tokens.number()
    return buddy


def _list(tokens: _Tokens, kind: int, count: int) -> Value:
    if not 0 <= count <= MAX_COUNT:
        raise XmmepDecodeError(f"count {count} out of range", fatal=False, code=tokens.code)
    if kind == Kind.LIST_STR:
        return [tokens.text() for _ in range(count)]
    if kind == Kind.DICT:
        return [(tokens.number(), tokens.text()) for _ in range(count)]
    element = _ELEMENT[kind]
    return [_struct(tokens, element) for _ in range(count)]


def _extensions(tokens: list[bytes]) -> list[tuple[str, str]]:
    """``key=value`` tokens after the schema; tokens without ``=`` are ignored (§2.4)."""
    out: list[tuple[str, str]] = []
    for token in tokens:
        key, sep, value = token.partition(b"=")
        if sep and key:
            out.append((decode_text(key), decode_text(value)))
    return out


def decode_body(frame: Frame) -> Message:
    """The body of ``frame`` by its schema (:data:`SCHEMAS`; a code without one must not be passed)."""
    code, body = frame.code, frame.body
    if 0 in body:  # an int: ``b"\x00" in body`` first tries it as one, and pays for the TypeError
        raise XmmepDecodeError("NUL inside the body", fatal=False, code=code)
    items = body.translate(_ONE_DELIMITER).split(SOH) if body else []
    if code in _FLAT:
        return _decode_flat(code, items, _KINDS[code])
    return _decode_tokens(code, items)


def _decode_tokens(code: int, items: list[bytes]) -> Message:
    """:func:`decode_body` of any schema: a cursor over the tokens, for structs and lists."""
    tokens = _Tokens(code, items)
    values: list[Value] = []
    for _, kind in SCHEMAS[code]:
        if kind in _LISTS:
            previous = values[-1]
            assert isinstance(previous, int)
            values.append(_list(tokens, kind, int(previous)))
        elif kind in _STRUCT_SIZES:
            values.append(_struct(tokens, kind))
        else:
            values.append(tokens.scalar(kind))
    ext = [] if tokens.short else _extensions(tokens.items[tokens.pos :])
    return Message(code, values, ext)


def _decode_flat(code: int, items: list[bytes], kinds: tuple[int, ...]) -> Message:
    """:func:`decode_body` of a schema of scalars: each field is the token at its index, a missing one
    takes its default (and then no extension fields follow, §2.3)."""
    values: list[Value] = []
    present = len(items)
    for i, kind in enumerate(kinds):
        if i >= present:
            values.append("" if kind == Kind.STR else 0)
        elif kind == Kind.STR:
            values.append(decode_text(items[i]))
        else:
            values.append(parse_number(items[i], kind, code))
    return Message(code, values, _extensions(items[len(kinds) :]) if present > len(kinds) else [])


# -- bodies: encoding ----------------------------------------------------------------------------------------
def encode_text(text: str) -> bytes:
    """UTF-8, with the delimiter bytes and NUL replaced by spaces (§2.5). A lone surrogate is written as
    its three bytes; the strict ``encode()`` is tried first, as compiled it skips the codec lookup that
    naming an error handler costs (20 ns of ~130)."""
    try:
        data = text.encode()
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    return data.translate(_FORBIDDEN)


#: ``b"%d" % n`` of the small numbers a body carries most (results, flags, counts, ports).
_DECIMALS: Final = [b"%d" % n for n in range(1024)]


def _scalar(value: Value) -> bytes:
    """A scalar field; a bool writes as 0 or 1 like any int."""
    if isinstance(value, str):
        return encode_text(value)
    assert isinstance(value, int)
    return _DECIMALS[value] if 0 <= value < 1024 else b"%d" % value


def encode_struct(value: Struct) -> bytes:
    """A struct's members joined by STX, in wire order (UserInfo: the seed's)."""
    if isinstance(value, UserInfo):
        members: list[Value] = [
            value.user_name,
            value.nickname,
            value.personal_msg,
            value.email,
            value.avatar,
            value.birthday,
            value.location,
            value.last_login_time,
            value.gender,
        ]
    elif isinstance(value, Buddy):
        members = [value.buddy_name, value.group_name, value.display_name]
    elif isinstance(value, OnlineBuddy):
        members = [
            value.buddy_name,
            value.group_name,
            value.display_name,
            value.personal_message,
            value.avatar,
            value.ip,
            value.port,
            value.status,
        ]
    else:
        members = [value.room_name, value.creator, value.announce]
    return STX.join([_scalar(m) for m in members])


def _element(value: str | Struct | tuple[int, str]) -> bytes:
    if isinstance(value, str):
        return encode_text(value)
    if isinstance(value, tuple):
        return b"%d" % value[0] + EOT + encode_text(value[1])
    return encode_struct(value)


def _field(value: Value) -> bytes | None:
    """One top-level field; None for an empty list (no delimiter before it either, §2.3 rule 6). Text
    and numbers, the fields of nearly every body, are tried first."""
    if isinstance(value, (str, int)):
        return _scalar(value)
    if isinstance(value, list):
        if not value:
            return None
        return ETX.join([_element(v) for v in value])
    return encode_struct(value)


def encode_body(code: int, values: list[Value], ext: list[tuple[str, str]] | None = None) -> bytes:
    """A body from its field values in schema order, then ``key=value`` extension fields."""
    cut = TRUNCATED.get(code)
    if cut is not None and values[cut] != 0:
        values = values[: cut + 1]
    parts: list[bytes] = []
    for value in values:
        encoded = _field(value)
        if encoded is not None:
            parts.append(encoded)
    for key, text in ext or ():
        parts.append(encode_text(key) + b"=" + encode_text(text))
    return SOH.join(parts)


def encode(code: int, values: list[Value], ext: list[tuple[str, str]] | None = None) -> bytes:
    """A whole message: header and body."""
    body = encode_body(code, values, ext)
    return encode_header(len(body), code) + body


# -- the chat's two messages, written directly ---------------------------------------------------------------
# 170 and 171 are written for every message a chat carries; these write the bytes :func:`encode` writes
# for them straight into one ``BytesWriter`` (compiled: native appends), without the list of values, the
# per-field dispatch, the list of pieces and their join: about a fifth of the instructions.

#: Names as written, by name: a chat writes the same few user names into every 170 and 171.
_NAMES: Final[dict[str, bytes]] = {}
_NAME_MAX: Final = 64  # longer names are encoded each time rather than kept
_DIGITS3: Final = [b"%03d" % n for n in range(1000)]
_HOLE: Final = b" " * HEADER_SIZE  # the header, written over once the body's length is known


def _put_name(out: BytesWriter, name: str) -> None:
    known = _NAMES.get(name)
    if known is None:
        known = encode_text(name)
        if len(name) <= _NAME_MAX:
            remember(_NAMES, name, known)
    out.write(known)


def _put_decimal(out: BytesWriter, value: int) -> None:
    """``b"%d" % value``, three digits at a time from tables (a ``str`` of a message id costs ~900
    instructions, its digits here ~300). A message id is above 2**62, beyond the integers mypyc keeps
    unboxed: it is made an ``i64`` once, so that no comparison goes through the generic path."""
    try:
        n = i64(value)
    except (ValueError, OverflowError):  # beyond 64 bits (compiled; interpreted, i64() is int())
        n = -1
    if n < 0:  # a negative number (rare), or one beyond 64 bits
        out.write(b"%d" % value)
    else:
        _put_digits(out, n)


def _put_digits(out: BytesWriter, n: i64) -> None:
    """The decimal digits of ``n`` ≥ 0. The divisors are literals: compiled, each division is inlined
    as a multiplication, where a variable divisor calls a function."""
    if n >= 1000:
        _put_digits(out, n // 1000)
        out.write(_DIGITS3[n % 1000])
    else:
        out.write(_DECIMALS[n])


def _finish(out: BytesWriter, code: int) -> bytes:
    """The message in ``out`` (its body behind :data:`_HOLE`) with its header written over the hole."""
    length = len(out) - HEADER_SIZE
    if length >= MAX_MESSAGE:
        return encode_header(length, code) + out.getvalue()[HEADER_SIZE:]
    size, kind = _PADDED[length], _PADDED[code]
    for i in range(4):
        out[i] = u8(size[i])
        out[i + 4] = u8(kind[i])
    return out.getvalue()


def encode_txt_msg(
    sender: str, receiver: str, send_time: int, content: str, is_room: int, mid: int | None
) -> bytes:
    """``encode(170, [sender, receiver, send_time, content, is_room], ext)``, ``ext`` being
    ``[("mid", str(mid))]``, or none when ``mid`` is None."""
    out = BytesWriter()
    out.write(_HOLE)
    _put_name(out, sender)
    out.append(1)
    _put_name(out, receiver)
    out.append(1)
    _put_decimal(out, send_time)
    out.append(1)
    out.write(encode_text(content))
    out.append(1)
    _put_decimal(out, is_room)
    if mid is not None:
        out.write(b"\x01mid=")
        _put_decimal(out, mid)
    return _finish(out, Code.TXT_MSG)


def encode_txt_msg_res(
    user_name: str,
    result: int,
    receiver: str,
    is_room: int,
    send_time: int,
    client_msg_id: str,
    msg_id: int,
    server_time: int,
) -> bytes:
    """``encode(171, [user_name, result, receiver, is_room, send_time, client_msg_id, str(msg_id),
    server_time])``."""
    out = BytesWriter()
    out.write(_HOLE)
    _put_name(out, user_name)
    out.append(1)
    _put_decimal(out, result)
    out.append(1)
    _put_name(out, receiver)
    out.append(1)
    _put_decimal(out, is_room)
    out.append(1)
    _put_decimal(out, send_time)
    out.append(1)
    out.write(encode_text(client_msg_id))
    out.append(1)
    _put_decimal(out, msg_id)
    out.append(1)
    _put_decimal(out, server_time)
    return _finish(out, Code.TXT_MSG_RES)


def encode_message(message: Message) -> bytes:
    return encode(message.code, message.fields, message.ext)


def truncate_utf8(data: bytes, limit: int) -> bytes:
    """The longest prefix of UTF-8 ``data`` of at most ``limit`` bytes that ends on a character boundary."""
    if len(data) <= limit:
        return data
    end = max(limit, 0)
    while end > 0 and (data[end] & 0xC0) == 0x80:
        end -= 1
    return data[:end]
