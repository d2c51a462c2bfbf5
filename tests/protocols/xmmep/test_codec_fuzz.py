"""Property tests: whatever a peer sends over TCP or UDP, the XMMEP codec answers with frames or
XmmepDecodeError only; any split of the stream gives the same frames; bodies survive encode → decode."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyim.protocols.xmmep import codec as c
from polyim.protocols.xmmep.codec import Buddy, Decoder, Frame, OnlineBuddy, UserInfo, XmmepDecodeError
from tests.protocols.fuzzing import chunks, feed_all, mutated_stream

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_INFO = UserInfo("alice", "Alice", "hi", "a@x.cn", "", 631152000, "Kunshan", 0, 1)
# Well-formed client and server messages to mutate.
SEEDS = [
    c.encode(112, ["alice", "secret123", 0], [("ext", "ack,tok")]),
    c.encode(170, ["alice", "bob", 1700000100, "Hello 你好", 0], [("cid", "a-1")]),
    c.encode(172, ["bob", 2, ["1", "2"]]),
    c.encode(108, ["alice", _INFO, "pw"]),
    c.encode(150, ["alice", Buddy("bob", "Work", "B"), 0]),
    c.encode(153, ["bob", OnlineBuddy("alice", "Friends"), 1]),
    c.encode(195, ["alice", 2, [(1, "al"), (8, "Kun")]]),
    c.encode(196, [1, 1, [_INFO]]),
    c.encode(127, []),
    c.encode(200, ["alice"]),
]


def _serve(frames: list[Frame]) -> None:
    """What a server does with each frame; only the codec's error may come out of it."""
    for frame in frames:
        if frame.code in c.SCHEMAS:
            with contextlib.suppress(XmmepDecodeError):
                c.encode_message(c.decode_body(frame))


def _feed(pieces: list[bytes]) -> tuple[list[Frame], BaseException | None]:
    frames, exc = feed_all(Decoder().feed, XmmepDecodeError, pieces)
    assert exc is None or isinstance(exc, XmmepDecodeError)
    return frames, exc


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_the_codec_error(data: bytes) -> None:
    frames, _ = _feed([data])
    _serve(frames)


@FUZZ
@given(mutated_stream(SEEDS))
def test_mutated_frames_raise_only_the_codec_error(data: bytes) -> None:
    frames, _ = _feed([data])
    _serve(frames)


@FUZZ
@given(mutated_stream(SEEDS), st.lists(st.integers(0, 4096), max_size=12))
def test_any_split_of_the_stream_gives_the_same_frames(data: bytes, cuts: list[int]) -> None:
    whole, whole_exc = _feed([data])
    pieces, pieces_exc = _feed(chunks(data, cuts))
    assert pieces == whole
    assert (pieces_exc is None) == (whole_exc is None)


@FUZZ
@given(mutated_stream(SEEDS))
def test_byte_at_a_time_gives_the_same_frames(data: bytes) -> None:
    whole, _ = _feed([data])
    single, _ = _feed([data[i : i + 1] for i in range(len(data))])
    assert single == whole


@FUZZ
@given(st.one_of(st.binary(max_size=1500), mutated_stream(SEEDS)))
def test_datagrams_decode_to_one_frame_or_the_codec_error(data: bytes) -> None:
    try:
        frame = c.decode_datagram(data)
    except XmmepDecodeError as exc:
        assert exc.fatal
        return
    assert len(data) <= c.MAX_MESSAGE
    _serve([frame])


@FUZZ
@given(st.sampled_from(SEEDS))
def test_every_seed_is_one_datagram(data: bytes) -> None:
    assert c.decode_datagram(data) == Decoder().feed(data)[0]


_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)


@FUZZ
@given(
    _text,
    _text,
    st.integers(-(2**63), 2**63 - 1),
    _text,
    st.booleans(),
    st.lists(st.text("abc=0", max_size=5)),
)
def test_170_survives_encode_decode(
    sender: str, receiver: str, when: int, content: str, room: bool, ext: list[str]
) -> None:
    pairs = [(f"k{i}", v) for i, v in enumerate(ext)]
    wire = c.encode(170, [sender, receiver, when, content, int(room)], pairs)
    frames = Decoder().feed(wire)
    message = c.decode_body(frames[0])
    clean = [c.decode_text(c.encode_text(t)) for t in (sender, receiver, content)]
    assert message.fields == [clean[0], clean[1], when, clean[2], int(room)]
    assert c.encode_message(message) == wire


_any_text = st.text(max_size=80)  # surrogates and the delimiters included
_any_int = st.one_of(st.integers(), st.integers(-(10**19), 10**19), st.integers(0, 2000))


@FUZZ
@given(_any_text, _any_text, _any_int, st.text(max_size=900), _any_int, st.none() | _any_int)
@example("a" * 70, "b", 10**18 - 1, "x" * 1440, 1, 2**63 - 1)  # a name too long to keep, over 1450
@example("a", "b", -(10**18) + 1, "\x00\x01\x04 ok", 0, None)
def test_170_written_directly_is_what_encode_writes(
    sender: str, receiver: str, when: int, content: str, room: int, mid: int | None
) -> None:
    ext = [] if mid is None else [("mid", str(mid))]
    for _ in range(2):  # the second time with the names kept
        direct = c.encode_txt_msg(sender, receiver, when, content, room, mid)
        assert direct == c.encode(170, [sender, receiver, when, content, room], ext)


@FUZZ
@given(_any_text, _any_int, _any_text, _any_int, _any_int, _any_text, _any_int, _any_int)
def test_171_written_directly_is_what_encode_writes(
    user: str, result: int, receiver: str, room: int, when: int, cid: str, msg_id: int, now: int
) -> None:
    direct = c.encode_txt_msg_res(user, result, receiver, room, when, cid, msg_id, now)
    assert direct == c.encode(171, [user, result, receiver, room, when, cid, str(msg_id), now])


@FUZZ
@given(
    st.lists(
        st.builds(
            UserInfo,
            _text,
            _text,
            _text,
            _text,
            _text,
            st.integers(-(2**40), 2**40),
            _text,
            st.integers(0, 2**40),
            st.integers(0, 1),
        ),
        max_size=10,
    )
)
def test_196_pages_survive_encode_decode(infos: list[UserInfo]) -> None:
    wire = c.encode(196, [1, len(infos), list(infos)])
    message = c.decode_body(Decoder().feed(wire)[0])
    assert c.encode_message(message) == wire


# The grammar of §2.1 and §2.2 as regular expressions: the codec checks them without one, and must
# accept exactly what they accept.
_HEADER_HALF = re.compile(rb" *[0-9]{1,4} *")
_DECIMAL = re.compile(rb"-?[0-9]{1,20}")
_NUMBERISH = st.lists(st.sampled_from(list(b" -+_09187\t.a\xd9")), max_size=24).map(bytes)


@FUZZ
@given(st.lists(st.sampled_from(list(b" -+_0123456789\t\x00")), min_size=8, max_size=8).map(bytes))
def test_a_header_is_accepted_exactly_when_both_halves_are_padded_digits(header: bytes) -> None:
    grammatical = all(_HEADER_HALF.fullmatch(half) for half in (header[:4], header[4:]))
    try:
        length, code = c.parse_header(header)
    except XmmepDecodeError:
        assert not grammatical or int(header[4:]) < 100 or int(header[:4]) > c.MAX_BODY
        return
    assert grammatical and (length, code) == (int(header[:4]), int(header[4:]))


@FUZZ
@given(_NUMBERISH)
def test_a_number_is_accepted_exactly_when_it_is_a_signed_decimal(raw: bytes) -> None:
    grammatical = _DECIMAL.fullmatch(raw.strip(b" ")) is not None
    try:
        value = c.parse_number(raw, c.Kind.INT)
    except XmmepDecodeError:
        assert not grammatical
        return
    assert grammatical and value == int(raw)


def _reference_number(raw: bytes, kind: int) -> int | None:
    """What a numeric field reads as, from the rules of §2.2 by the plainest means (None: refused)."""
    token = raw.strip(b" ")
    if kind == c.Kind.BOOL and not token:
        return 0
    if _DECIMAL.fullmatch(token) is None:
        return None
    value = int(token)
    if kind == c.Kind.BOOL:
        return 1 if value else 0
    if (kind == c.Kind.BYTE and not 0 <= value <= 255) or (kind == c.Kind.UINT and value < 0):
        return None
    if kind == c.Kind.PORT:
        return None if not -32768 <= value <= 65535 else value + 65536 if value < 0 else value
    return value


@FUZZ
@example(b"9" * 20, c.Kind.INT)
@example(b" " + b"1" * 21, c.Kind.INT)
@example(b"-" + b"9" * 20 + b"  ", c.Kind.INT)
@example(b"-32769", c.Kind.PORT)
@example(b"-1", c.Kind.PORT)
@example(b"256", c.Kind.BYTE)
@example(b"  ", c.Kind.BOOL)
@example(b"-", c.Kind.BOOL)
@given(
    st.one_of(_NUMBERISH, st.from_regex(rb"\A *-?[0-9]{0,22} *\Z", fullmatch=True)),
    st.sampled_from(sorted(c._NUMERIC)),
)
def test_every_numeric_kind_reads_as_its_rules_say(raw: bytes, kind: int) -> None:
    """The digit-by-digit reader against the rules: spaces, a sign, 1 to 20 digits, each kind's range
    (long runs of digits and ranges' edges included), an empty Bool false, anything else refused."""
    expected = _reference_number(raw, kind)
    try:
        value = c.parse_number(raw, kind, 170)
    except XmmepDecodeError as exc:
        assert expected is None and exc.code == 170 and not exc.fatal
        return
    assert value == expected


_TOKEN = st.one_of(_NUMBERISH, st.binary(max_size=8), st.text("ab=é1", max_size=6).map(str.encode))


def _decoded(decode: Callable[[], c.Message]) -> c.Message | str:
    try:
        return decode()
    except XmmepDecodeError as exc:
        return f"{exc} {exc.code} {exc.fatal}"


@FUZZ
@given(st.sampled_from(sorted(c._FLAT)), st.lists(_TOKEN, max_size=12))
def test_a_flat_schema_reads_as_the_cursor_reads_it(code: int, items: list[bytes]) -> None:
    """The by-index reading of scalar-only schemas (chat's) gives the general reading's fields,
    defaults, extension fields and errors, for any number of tokens."""
    flat = _decoded(lambda: c._decode_flat(code, items, c._KINDS[code]))
    assert flat == _decoded(lambda: c._decode_tokens(code, items))


def test_the_flat_schemas_include_chat_and_exclude_structs_and_lists() -> None:
    assert {170, 171, 112} <= c._FLAT
    assert not {108, 172, 195, 196} & c._FLAT
