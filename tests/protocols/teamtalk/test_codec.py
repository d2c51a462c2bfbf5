"""Golden vectors of teamtalk.md §5 (5.1–5.13): each decodes to the page's fields and re-encodes to the
very same bytes; framing and body bounds of §2.5–§2.6."""

from __future__ import annotations

import pytest

from polyim.protocols.teamtalk import codec as c

TASK = "00112233445566778899aabbccddeeff"


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


# (name, wire bytes, key, reserved, the body the page describes)
VECTORS: list[tuple[str, bytes, tuple[int, int], int, c.Body]] = [
    ("5.1 1/1", _hex("00 00 00 0c 00 01 00 01 00 01 00 01"), c.MSGSERVER_REQ, 1, c.EMPTY),
    (
        "5.2 1/2",
        _hex(
            "00 00 00 2c 00 01 00 02 00 01 00 01 00 00 00 00 00 00 00 09 31 32 37 2e 30 2e 30 2e 31 00 00 00"
            "09 31 32 37 2e 30 2e 30 2e 31 20 6c"
        ),
        c.MSGSERVER_RES,
        1,
        c.MsgServerRes(0, "127.0.0.1", "127.0.0.1", 8300),
    ),
    (
        "5.3 1/3",
        _hex(
            "00 00 00 48 00 01 00 03 00 01 00 02 00 00 00 05 61 6c 69 63 65 00 00 00 20 35 65 62 65 32 32 39"
            "34 65 63 64 30 65 30 66 30 38 65 61 62 37 36 39 30 64 32 61 36 65 65 36 39 00 00 00 01 00 00 00"
            "01 00 00 00 03 32 2e 30"
        ),
        c.USERLOGIN_REQ,
        2,
        c.LoginReq("alice", "5ebe2294ecd0e0f08eab7690d2a6ee69", 1, 0x01, "2.0"),
    ),
    (
        "5.4 1/4 ok",
        _hex(
            "00 00 00 56 00 01 00 04 00 01 00 02 65 53 f1 00 00 00 00 00 00 00 00 01 00 00 00 05 31 30 30 30"
            "30 00 00 00 05 41 6c 69 63 65 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
            "00 01 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 74 6b 31"
        ),
        c.USERLOGIN_RES,
        2,
        c.LoginRes(1700000000, 0, 1, c.UserInfo("10000", "", "Alice"), "tk1"),
    ),
    (
        "5.4 1/4 failure",
        _hex("00 00 00 14 00 01 00 04 00 01 00 02 65 53 f1 00 00 00 00 06"),
        c.USERLOGIN_RES,
        2,
        c.LoginRes(1700000000, 6),
    ),
    (
        "5.5 3/1 up",
        _hex(
            "00 00 00 31 00 03 00 01 00 01 00 03 00 00 00 01 00 00 00 05 31 30 30 30 30 00 00 00 05 31 30 30"
            "30 31 65 53 f1 00 01 00 00 00 02 68 69 00 00 00 00"
        ),
        c.MSG_DATA,
        3,
        c.MsgData(1, "10000", "10001", 1700000000, 0x01, b"hi"),
    ),
    (
        "5.6 3/2",
        _hex("00 00 00 19 00 03 00 02 00 01 00 03 00 00 00 01 00 00 00 05 31 30 30 30 30"),
        c.MSG_DATA_ACK,
        3,
        c.MsgDataAck(1, "10000"),
    ),
    (
        "5.7 3/1 down",
        _hex(
            "00 00 00 31 00 03 00 01 00 01 00 00 00 00 00 01 00 00 00 05 31 30 30 30 30 00 00 00 05 31 30 30"
            "30 31 65 53 f1 01 01 00 00 00 02 68 69 00 00 00 00"
        ),
        c.MSG_DATA,
        0,
        c.MsgData(1, "10000", "10001", 1700000001, 0x01, b"hi"),
    ),
    (
        "5.7 bob's 3/2",
        _hex("00000019 0003 0002 0001 0007 00000001 00000005 3130303030"),
        c.MSG_DATA_ACK,
        7,
        c.MsgDataAck(1, "10000"),
    ),
    ("5.8 7/1", _hex("00 00 00 0c 00 07 00 01 00 01 00 04"), c.HEARTBEAT, 4, c.EMPTY),
    (
        "5.9 1/7",
        _hex("00 00 00 14 00 01 00 07 00 01 00 00 00 00 27 10 00 00 00 01"),
        c.KICK_USER,
        0,
        c.KickUser(10000, 1),
    ),
    (
        "5.10 6/1",
        _hex(
            "00 00 00 41 00 06 00 01 00 01 00 05 00 00 00 05 31 30 30 30 30 00 00 00 00 00 00 00 20 30 30 31"
            "31 32 32 33 33 34 34 35 35 36 36 37 37 38 38 39 39 61 61 62 62 63 63 64 64 65 65 66 66 00 00 00"
            "01"
        ),
        c.FILE_LOGIN_REQ,
        5,
        c.FileLoginReq("10000", "", TASK, 1),
    ),
    (
        "5.11 6/4",
        _hex(
            "00 00 00 45 00 06 00 04 00 01 00 06 00 00 00 20 30 30 31 31 32 32 33 33 34 34 35 35 36 36 37 37"
            "38 38 39 39 61 61 62 62 63 63 64 64 65 65 66 66 00 00 00 05 31 30 30 30 31 00 00 00 01 00 00 00"
            "00 00 00 10 00"
        ),
        c.PULL_DATA_REQ,
        6,
        c.PullDataReq(TASK, "10001", 1, 0, 4096),
    ),
    (
        "5.12 6/5",
        _hex(
            "00 00 00 4a 00 06 00 05 00 01 00 07 00 00 00 00 00 00 00 20 30 30 31 31 32 32 33 33 34 34 35 35"
            "36 36 37 37 38 38 39 39 61 61 62 62 63 63 64 64 65 65 66 66 00 00 00 05 31 30 30 30 30 00 00 00"
            "00 00 00 00 05 68 65 6c 6c 6f"
        ),
        c.PULL_DATA_RES,
        7,
        c.PullDataRes(0, TASK, "10000", 0, b"hello"),
    ),
    (
        "5.13 6/5 end",
        _hex(
            "00 00 00 45 00 06 00 05 00 01 00 08 00 00 00 00 00 00 00 20 30 30 31 31 32 32 33 33 34 34 35 35"
            "36 36 37 37 38 38 39 39 61 61 62 62 63 63 64 64 65 65 66 66 00 00 00 05 31 30 30 30 30 00 00 00"
            "05 00 00 00 00"
        ),
        c.PULL_DATA_RES,
        8,
        c.PullDataRes(0, TASK, "10000", 5, b""),
    ),
]


@pytest.mark.parametrize(
    ("wire", "key", "reserved", "body"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_golden_vectors_decode_to_the_page_and_encode_back_byte_for_byte(
    wire: bytes, key: tuple[int, int], reserved: int, body: c.Body
) -> None:
    [frame] = c.Decoder(c.MAX_FILE_FRAME).feed(wire)
    assert (frame.key, frame.reserved, frame.version) == (key, reserved, 1)
    decoded = c.decode_body(frame)
    if isinstance(decoded, c.LoginRes) and decoded.user is not None:
        assert decoded.user.id == "10000" and decoded.user.nick_name == "Alice"
        assert decoded.user.depart_id == "0" and decoded.token == "tk1"
    else:
        assert decoded == body
    assert c.frame_of(key, reserved, body) == wire
    assert c.frame_of(key, reserved, decoded) == wire


def test_any_split_of_a_stream_gives_the_same_frames() -> None:
    stream = b"".join(v[1] for v in VECTORS)
    whole = c.Decoder(c.MAX_FILE_FRAME).feed(stream)
    decoder = c.Decoder(c.MAX_FILE_FRAME)
    bytewise = [f for i in range(len(stream)) for f in decoder.feed(stream[i : i + 1])]
    assert bytewise == whole and len(whole) == len(VECTORS)


@pytest.mark.parametrize("length", [0, 11, c.MAX_MSG_FRAME + 1])
def test_a_length_below_12_or_over_the_listener_maximum_ends_the_stream(length: int) -> None:
    good = VECTORS[0][1]
    decoder = c.Decoder(c.MAX_MSG_FRAME)
    with pytest.raises(c.TeamTalkDecodeError) as err:
        decoder.feed(good + length.to_bytes(4, "big") + bytes(8))
    assert [f.key for f in err.value.frames] == [c.MSGSERVER_REQ]
    with pytest.raises(c.TeamTalkDecodeError):
        decoder.feed(good)


def test_the_flash_policy_probe_reads_as_a_huge_length_and_is_refused() -> None:
    with pytest.raises(c.TeamTalkDecodeError):
        c.Decoder(c.MAX_LOGIN_FRAME).feed(b"<policy-file-request/>\0")


def test_a_truncated_body_is_an_error_and_extra_bytes_are_ignored() -> None:
    body = c.MsgDataAck(1, "10000").encode()
    with pytest.raises(c.TeamTalkDecodeError):
        c.MsgDataAck.decode(body[:-1])
    assert c.MsgDataAck.decode(body + b"later field") == c.MsgDataAck(1, "10000")


def test_field_and_list_bounds_of_a_request() -> None:
    with pytest.raises(c.TeamTalkDecodeError):
        c.IdBody.decode(c.Writer().text("1" * (c.MAX_STR + 1)).done())
    with pytest.raises(c.TeamTalkDecodeError):
        c.IdList.decode(c.Writer().u32(c.MAX_COUNT + 1).done())
    text = c.MsgData(1, "1", "2", 0, c.MSG_TEXT, b"x" * (c.MAX_TEXT + 1)).encode()
    with pytest.raises(c.TeamTalkDecodeError):
        c.MsgData.decode(text)
    audio = c.MsgData(1, "1", "2", 0, c.MSG_AUDIO, b"x" * (c.MAX_TEXT + 1)).encode()
    assert len(c.MsgData.decode(audio).msg_data) == c.MAX_TEXT + 1


def test_invalid_utf8_is_replaced_in_text_and_empties_the_login_name() -> None:
    assert c.IdStatus.decode(c.Writer().blob(b"a\xffb").u32(1).done()).id == "a\ufffdb"
    login = c.Writer().blob(b"\xff").text("pw").u32(1).u32(1).text("v").done()
    assert c.LoginReq.decode(login).user_name == ""


def test_an_unknown_command_is_the_codecs_error() -> None:
    with pytest.raises(c.TeamTalkDecodeError):
        c.decode_body(c.Frame(3, 10, 0, b""))
