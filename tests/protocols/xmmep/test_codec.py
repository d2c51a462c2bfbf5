"""The XMMEP codec against the golden vectors of xmmep.md §6 (decoded, then re-encoded byte for byte)
and the framing, decoding and encoding rules of §2."""

from __future__ import annotations

import pytest

from polyim.protocols.xmmep import codec as c
from polyim.protocols.xmmep.codec import Buddy, Frame, Message, OnlineBuddy, UserInfo, XmmepDecodeError


def _hex(dump: str) -> bytes:
    """The hex column of a §6 dump (offset and text columns left out)."""
    out = bytearray()
    for line in dump.strip().splitlines():
        hexpart = line.split("|")[0].split(None, 1)[1] if "|" in line else line.split(None, 1)[1]
        out += bytes.fromhex(hexpart)
    return bytes(out)


GOLDEN: dict[str, bytes] = {
    "112": _hex("""
0000  20 20 31 37 20 31 31 32 61 6c 69 63 65 01 73 65  |
0010  63 72 65 74 31 32 33 01 30                       |
"""),
    "112 ext": _hex("""
0000  20 20 32 39 20 31 31 32 61 6c 69 63 65 01 73 65  |
0010  63 72 65 74 31 32 33 01 30 01 65 78 74 3d 61 63  |
0020  6b 2c 74 6f 6b                                   |
"""),
    "113 ok": _hex("""
0000  20 20 37 32 20 31 31 33 30 01 61 6c 69 63 65 02  |
0010  41 6c 69 63 65 02 68 69 20 74 68 65 72 65 02 61  |
0020  6c 69 63 65 40 65 78 61 6d 70 6c 65 2e 63 6f 6d  |
0030  02 02 36 33 31 31 35 32 30 30 30 02 4b 75 6e 73  |
0040  68 61 6e 02 31 36 39 39 39 39 30 30 30 30 02 30  |
"""),
    "113 fail": _hex("0000  20 20 20 32 20 31 31 33 31 32 |"),
    "114": _hex("""
0000  20 20 31 36 20 31 31 34 31 01 32 01 46 72 69 65  |
0010  6e 64 73 03 57 6f 72 6b                          |
"""),
    "115 empty": _hex("0000  20 20 20 33 20 31 31 35 31 01 30 |"),
    "118": _hex("""
0000  20 20 32 38 20 31 31 38 31 01 31 01 62 6f 62 02  |
0010  46 72 69 65 6e 64 73 02 42 6f 62 62 79 02 02 02  |
0020  02 30 02 30                                      |
"""),
    "127": _hex("0000  20 20 20 30 20 31 32 37 |"),
    "128": _hex("0000  20 20 20 35 20 31 32 38 61 6c 69 63 65 |"),
    "170": _hex("""
0000  20 20 34 31 20 31 37 30 61 6c 69 63 65 01 62 6f  |
0010  62 01 31 37 30 30 30 30 30 31 30 30 01 48 65 6c  |
0020  6c 6f 2c 20 42 6f 62 21 20 e4 bd a0 e5 a5 bd 01  |
0030  30                                               |
"""),
    "170 cid": _hex("""
0000  20 20 35 32 20 31 37 30 61 6c 69 63 65 01 62 6f  |
0010  62 01 31 37 30 30 30 30 30 31 30 30 01 48 65 6c  |
0020  6c 6f 2c 20 42 6f 62 21 20 e4 bd a0 e5 a5 bd 01  |
0030  30 01 63 69 64 3d 61 2d 30 30 30 31              |
"""),
    "171": _hex("""
0000  20 20 36 32 20 31 37 31 61 6c 69 63 65 01 30 01  |
0010  62 6f 62 01 30 01 31 37 30 30 30 30 30 31 30 30  |
0020  01 61 2d 30 30 30 31 01 37 31 33 30 30 30 30 30  |
0030  30 30 30 30 30 30 30 30 30 30 31 01 31 37 30 30  |
0040  30 30 30 31 30 31                                |
"""),
    "170 mid": _hex("""
0000  20 20 36 35 20 31 37 30 61 6c 69 63 65 01 62 6f  |
0010  62 01 31 37 30 30 30 30 30 31 30 31 01 48 65 6c  |
0020  6c 6f 2c 20 42 6f 62 21 20 e4 bd a0 e5 a5 bd 01  |
0030  30 01 6d 69 64 3d 37 31 33 30 30 30 30 30 30 30  |
0040  30 30 30 30 30 30 30 30 31                       |
"""),
    "172": _hex("""
0000  20 20 32 35 20 31 37 32 62 6f 62 01 31 01 37 31  |
0010  33 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30  |
0020  31                                               |
"""),
    "200": bytes.fromhex("20 20 20 35 20 32 30 30 61 6c 69 63 65"),
    "133": bytes.fromhex("20 20 20 32 20 31 33 33 31 36"),
    "136": bytes.fromhex("20 20 31 31 20 31 33 36 62 6f 62 01 61 6c 69 63 65 01 32"),
    "111": bytes.fromhex("20 20 31 36 20 31 31 31 30 01 31 32 37 2e 30 2e 30 2e 31 01 37 31 30 30"),
    "900": bytes.fromhex("20 20 33 39 20 39 30 30 31 37 01 31 37 30 01")
    + b"sender is not the logged-in user",
}

SIZES = {"112": 25, "112 ext": 37, "113 ok": 80, "113 fail": 10, "114": 24, "115 empty": 11, "118": 36}
SIZES |= {"127": 8, "128": 13, "170": 49, "170 cid": 60, "171": 70, "170 mid": 73, "172": 33}

ALICE = UserInfo("alice", "Alice", "hi there", "alice@example.com", "", 631152000, "Kunshan", 1699990000, 0)
HELLO = "Hello, Bob! 你好"

# What each golden vector decodes to.
DECODED: dict[str, Message] = {
    "112": Message(112, ["alice", "secret123", 0]),
    "112 ext": Message(112, ["alice", "secret123", 0], [("ext", "ack,tok")]),
    "113 ok": Message(113, [0, ALICE]),
    "113 fail": Message(113, [12, UserInfo()]),
    "114": Message(114, [1, 2, ["Friends", "Work"]]),
    "115 empty": Message(115, [1, 0, []]),
    "118": Message(118, [1, 1, [OnlineBuddy("bob", "Friends", "Bobby", "", "", "", 0, 0)]]),
    "127": Message(127, []),
    "128": Message(128, ["alice"]),
    "170": Message(170, ["alice", "bob", 1700000100, HELLO, 0]),
    "170 cid": Message(170, ["alice", "bob", 1700000100, HELLO, 0], [("cid", "a-0001")]),
    "171": Message(171, ["alice", 0, "bob", 0, 1700000100, "a-0001", "7130000000000000001", 1700000101]),
    "170 mid": Message(170, ["alice", "bob", 1700000101, HELLO, 0], [("mid", "7130000000000000001")]),
    "172": Message(172, ["bob", 1, ["7130000000000000001"]]),
    "200": Message(200, ["alice"]),
    "133": Message(133, [16]),
    "136": Message(136, ["bob", "alice", 2]),
    "111": Message(111, [0, "127.0.0.1", 7100]),
    "900": Message(900, [17, 170, "sender is not the logged-in user"]),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_vector_decodes_and_reencodes_byte_for_byte(name: str) -> None:
    wire = GOLDEN[name]
    assert len(wire) == SIZES.get(name, len(wire))
    frames = c.Decoder().feed(wire)
    assert len(frames) == 1
    message = c.decode_body(frames[0])
    assert message == DECODED[name]
    assert c.encode_message(message) == wire
    assert c.decode_datagram(wire) == frames[0]


def test_the_seed_examples_of_section_3_3_1_1_frame_alike() -> None:
    assert c.encode_header(10, 138) + b"1\x0118\x01hello" == b"  10 1381\x0118\x01hello"
    assert c.encode(126, [1, ["tiger", "puma"]]) == b"  12 1261\x01tiger\x03puma"


def test_header_accepts_leading_zeros_and_trailing_spaces() -> None:
    assert c.parse_header(b"0032 126") == (32, 126)
    assert c.parse_header(b"32   126") == (32, 126)


@pytest.mark.parametrize(
    "header", [b"    0127", b" -1  127", b"  3a 127", b"   3\t127", b"   3\x00127", b"1443 127"]
)
def test_bad_headers_end_the_stream(header: bytes) -> None:
    decoder = c.Decoder()
    with pytest.raises(XmmepDecodeError) as info:
        decoder.feed(c.encode(200, ["bob"]) + header)
    assert info.value.fatal
    assert [f.code for f in info.value.frames] == [200]
    with pytest.raises(XmmepDecodeError):
        decoder.feed(b"")


def test_message_types_below_100_are_bad_headers() -> None:
    with pytest.raises(XmmepDecodeError):
        c.parse_header(b"   0  99")


def test_stream_framing_across_reads() -> None:
    wire = GOLDEN["170"] + GOLDEN["127"] + GOLDEN["200"]
    decoder = c.Decoder()
    frames: list[Frame] = []
    for byte in wire:
        frames += decoder.feed(bytes([byte]))
    assert [f.code for f in frames] == [170, 127, 200]


def test_datagram_rules() -> None:
    wire = GOLDEN["200"]
    assert c.decode_datagram(wire + b"\x00") == Frame(200, b"alice")
    for bad in (
        wire + b"\x00\x00",
        wire[:-1],
        wire + b"x",
        wire[:7],
        c.encode_header(1442, 170) + b"x" * 1443,
    ):
        with pytest.raises(XmmepDecodeError):
            c.decode_datagram(bad)


def test_missing_trailing_fields_take_defaults_and_hide_extensions() -> None:
    message = c.decode_body(Frame(170, b"alice\x01bob"))
    assert message.fields == ["alice", "bob", 0, "", 0]
    assert c.decode_body(Frame(112, b"alice\x01pw")).ext == []


def test_delimiter_kinds_are_not_checked() -> None:
    message = c.decode_body(Frame(150, b"alice\x01bob\x01Work\x01Bobby\x011"))
    assert message.buddy("buddy") == Buddy("bob", "Work", "Bobby")
    assert message.flag("is_room_member")


def test_extension_fields_need_an_equals_sign() -> None:
    message = c.decode_body(Frame(200, b"alice\x01junk\x01tok=abc\x01=x"))
    assert message.ext == [("tok", "abc")]
    assert message.extension("tok") == "abc"
    assert message.extension("cid") is None


@pytest.mark.parametrize(
    "frame",
    [
        Frame(170, b"alice\x01bob\x01x12\x01hi\x010"),
        Frame(170, b"alice\x01b\x00b\x01123\x01hi\x010"),
        Frame(172, b"bob\x011001"),
        Frame(172, b"bob\x01-1"),
        Frame(101, b"256"),
        Frame(180, b"a\x01b\x01f\x01-5\x011\x010"),
        Frame(170, b"alice\x01bob\x01" + b"1" * 21 + b"\x01hi\x010"),
    ],
)
def test_malformed_bodies_raise_a_non_fatal_error(frame: Frame) -> None:
    with pytest.raises(XmmepDecodeError) as info:
        c.decode_body(frame)
    assert not info.value.fatal
    assert info.value.code == frame.code


def test_numbers_allow_spaces_and_booleans_any_nonzero() -> None:
    message = c.decode_body(Frame(170, b"a\x01b\x01 17 \x01t\x017"))
    assert message.num("send_time") == 17
    assert message.flag("is_room_msg")
    assert c.decode_body(Frame(170, b"a\x01b\x011\x01t\x01")).fields[4] == 0


def test_numbers_are_written_in_decimal_and_booleans_as_0_or_1() -> None:
    wire = c.encode_body(170, ["a", "b", 1_765_000_000, "t", True])
    assert wire == b"a\x01b\x011765000000\x01t\x011"
    assert c.encode_body(171, ["a", False, "b", 0, -5, "c", "1023", 1024]).split(b"\x01")[1:5] == [
        b"0",
        b"b",
        b"0",
        b"-5",
    ]
    assert c.encode_body(200, [""]) == b""


def test_ports_read_negative_values_plus_65536_and_are_written_unsigned() -> None:
    message = c.decode_body(Frame(111, b"0\x01h\x01-25536"))
    assert message.num("server_port") == 40000
    assert c.encode(111, [0, "h", 40000]).endswith(b"40000")


def test_user_info_in_the_original_code_order_is_understood() -> None:
    seed = c.encode_struct(ALICE)
    swapped = seed.replace(b"631152000\x02Kunshan", b"Kunshan\x02631152000")
    message = c.decode_body(Frame(108, b"alice\x01" + swapped + b"\x01pw"))
    assert message.user_info("user_info") == ALICE
    assert message.text("password") == "pw"


def test_strings_fall_back_to_gb18030_then_replacement() -> None:
    assert c.decode_text("你好".encode("gb18030")) == "你好"
    assert c.decode_text(b"\xff\xfe\xff") != ""
    assert c.decode_body(Frame(200, "你好".encode("gbk"))).text("user_name") == "你好"


def test_encoder_replaces_delimiters_and_nul_in_strings() -> None:
    assert c.encode_body(200, ["a\x00b\x01c\x02d\x03e\x04f"]) == b"a b c d e f"


def test_a_lone_surrogate_is_written_as_its_three_bytes() -> None:
    """A name decoded from a client's bytes never holds one, but a string from elsewhere may: it is
    written, not refused, and the delimiters around it are still replaced."""
    assert c.encode_body(200, ["a\udc80\x01b"]) == b"a\xed\xb2\x80 b"
    assert c.encode_text("\ud83d") == b"\xed\xa0\xbd"


def test_failed_replies_stop_after_the_result() -> None:
    assert c.encode(191, ["alice", 8, ALICE]) == b"   7 191alice\x018"
    assert c.encode(111, [2, "h", 1]) == b"   1 1112"
    assert c.encode(191, ["alice", 0, UserInfo("bob")]).count(b"\x02") == 8


def test_dictionary_and_search_results() -> None:
    message = c.decode_body(Frame(195, b"alice\x012\x012\x04Bob\x038\x04Kun"))
    assert message.pairs("conditions") == [(2, "Bob"), (8, "Kun")]
    assert c.encode_message(message) == b"  19 195alice\x012\x012\x04Bob\x038\x04Kun"
    results = c.decode_body(Frame(196, c.encode_body(196, [1, 2, [UserInfo("a"), UserInfo("b")]])))
    assert [u.user_name for u in results.structs("buddies") if isinstance(u, UserInfo)] == ["a", "b"]


def test_truncate_utf8_stops_on_a_character_boundary() -> None:
    data = "a你好".encode()
    assert c.truncate_utf8(data, 3) == b"a"
    assert c.truncate_utf8(data, 4) == "a你".encode()
    assert c.truncate_utf8(data, 99) == data
