"""Property tests: whatever a peer sends, the TeamTalk codec answers with frames or TeamTalkDecodeError
only; any split of the stream gives the same frames; every body of §3 survives encode → decode."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyim.protocols.teamtalk import codec as c
from tests.protocols.fuzzing import chunks, feed_all, mutated_stream

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = [
    c.frame_of(c.USERLOGIN_REQ, 1, c.LoginReq("alice", "5ebe2294ecd0e0f08eab7690d2a6ee69", 1, 1, "2.0")),
    c.frame_of(c.MSG_DATA, 2, c.MsgData(1, "10000", "10001", 0, c.MSG_TEXT, b"hi")),
    c.frame_of(c.HEARTBEAT, 3, c.EMPTY),
    c.frame_of(c.CREATE_TMP_GROUP_REQ, 4, c.CreateTmpGroupReq("g", "", ["10001", "10002"])),
    c.frame_of(c.FILE_REQ, 5, c.FileReq("10000", "10001", "a.txt", 5, 2)),
    c.frame_of(c.PULL_DATA_RES, 6, c.PullDataRes(0, "t", "10000", 0, b"hello")),
    c.frame_of(
        c.RECENT_GROUP_LIST_RES, 0, c.GroupListRes([c.GroupInfo("1", "n", "", "2", 1, ["3"], 9)], True)
    ),
]

_text = st.text(max_size=12)
_ids = st.lists(st.from_regex(r"[0-9]{1,6}", fullmatch=True), max_size=4)
_u32 = st.integers(0, 0xFFFFFFFF)
_pairs = st.lists(st.builds(c.IdValue, _text, _u32), max_size=3)
_addrs = st.lists(st.builds(c.Address, _text, st.integers(0, 0xFFFF)), max_size=3)
_user = st.builds(c.UserInfo, _text, _text, _text, _text, _text, _text, _u32, _u32, _text, _u32, _text, _text)
_group = st.builds(c.GroupInfo, _text, _text, _text, _text, _u32, _ids, st.just(0))
_recent = st.builds(c.GroupInfo, _text, _text, _text, _text, _u32, _ids, _u32)
_msg_type = st.sampled_from([c.MSG_TEXT, c.MSG_AUDIO, c.MSG_GROUP_TEXT, c.MSG_GROUP_AUDIO])
_blob = st.binary(max_size=40)

# (key, a strategy of its bodies); every command of §3 with a body, both directions.
BODIES: list[tuple[tuple[int, int], st.SearchStrategy[c.Body]]] = [
    (c.MSGSERVER_RES, st.builds(c.MsgServerRes, st.just(0), _text, _text, st.integers(0, 0xFFFF))),
    (c.MSGSERVER_RES, st.builds(c.MsgServerRes, st.integers(1, 9))),
    (c.USERLOGIN_REQ, st.builds(c.LoginReq, _text, _text, _u32, _u32, _text)),
    (c.USERLOGIN_RES, st.builds(c.LoginRes, _u32, st.integers(1, 9))),
    (c.KICK_USER, st.builds(c.KickUser, _u32, _u32)),
    (c.RECENT_CONTACT_REQ, st.builds(c.U32Body, _u32)),
    (c.RECENT_CONTACT_LIST, st.builds(c.Pairs, _pairs)),
    (c.ONLINE_FRIEND_LIST, st.builds(c.OnlineFriendList, st.integers(0, 0xFFFF), _pairs)),
    (c.STATUS_NOTIFY, st.builds(c.IdStatus, _text, _u32)),
    (c.USER_STATUS_REQ, st.builds(c.IdBody, _text)),
    (c.USER_INFO_REQ, st.builds(c.IdList, _ids)),
    (c.USER_INFO_RES, st.builds(c.UserInfoList, st.lists(_user, max_size=2))),
    (c.REMOVE_SESSION_REQ, st.builds(c.RemoveSessionReq, _u32, _text)),
    (c.REMOVE_SESSION_RES, st.builds(c.RemoveSessionRes, _u32, _u32, _text)),
    (
        c.DEPARTMENT_RES,
        st.builds(
            c.DepartmentRes,
            st.lists(st.builds(c.Department, _text, _text, _text, _text, _text, _u32), max_size=2),
        ),
    ),
    (c.MSG_DATA, st.builds(c.MsgData, _u32, _text, _text, _u32, _msg_type, _blob, _blob)),
    (c.MSG_DATA_ACK, st.builds(c.MsgDataAck, _u32, _text)),
    (
        c.UNREAD_MSG_RES,
        st.builds(
            c.UnreadMsgRes,
            _text,
            st.lists(st.builds(c.UnreadMsg, _text, _u32, _msg_type, _blob, _text, _text, _text), max_size=3),
        ),
    ),
    (
        c.GROUP_UNREAD_MSG_RES,
        st.builds(
            c.UnreadMsgRes,
            _text,
            st.lists(st.builds(c.UnreadMsg, _text, _u32, _msg_type, _blob), max_size=3),
            st.just(True),
        ),
    ),
    (c.P2P_CMD, st.builds(c.P2PCmd, _u32, _text, _text, _blob)),
    (c.GROUP_LIST_RES, st.builds(c.GroupListRes, st.lists(_group, max_size=2))),
    (c.RECENT_GROUP_LIST_RES, st.builds(c.GroupListRes, st.lists(_recent, max_size=2), st.just(True))),
    (c.GROUP_USER_LIST_RES, st.builds(c.GroupUserListRes, _text, st.integers(1, 5))),
    (c.CREATE_TMP_GROUP_REQ, st.builds(c.CreateTmpGroupReq, _text, _text, _ids)),
    (c.CREATE_TMP_GROUP_RES, st.builds(c.CreateTmpGroupRes, _u32, _text, _text, _ids)),
    (c.CHANGE_MEMBER_REQ, st.builds(c.ChangeMemberReq, _text, _u32, _ids)),
    (c.CHANGE_MEMBER_RES, st.builds(c.ChangeMemberRes, _u32, _text, _u32, _ids)),
    (c.NORMAL_GROUP_CREATED, st.builds(c.GroupCreated, _text, _text, _text, _ids)),
    (c.NORMAL_GROUP_MEMBERS, st.builds(c.GroupMembers, _text, _ids)),
    (c.FILE_LOGIN_REQ, st.builds(c.FileLoginReq, _text, _text, _text, _u32)),
    (c.FILE_LOGIN_RES, st.builds(c.FileLoginRes, _u32, _text)),
    (c.FILE_STATE, st.builds(c.FileState, _u32, _text, _text)),
    (c.PULL_DATA_REQ, st.builds(c.PullDataReq, _text, _text, _u32, _u32, _u32)),
    (c.PULL_DATA_RES, st.builds(c.PullDataRes, _u32, _text, _text, _u32, _blob)),
    (c.FILE_REQ, st.builds(c.FileReq, _text, _text, _text, _u32, _u32)),
    (c.FILE_RES, st.builds(c.FileRes, _u32, _text, _text, _text, _text, _addrs, _u32)),
    (c.FILE_NOTIFY, st.builds(c.FileNotify, _text, _text, _text, _u32, _text, _addrs, _u32, _u32)),
    (
        c.HAS_OFFLINE_RES,
        st.builds(
            c.HasOfflineRes, st.lists(st.builds(c.OfflineFile, _text, _text, _text, _u32), max_size=2), _addrs
        ),
    ),
    (c.ADD_OFFLINE_REQ, st.builds(c.AddOfflineReq, _text, _text, _text, _text, _u32)),
    (c.DEL_OFFLINE_REQ, st.builds(c.DelOfflineReq, _text, _text, _text)),
    (c.SERVICE_SETTING, st.builds(c.ServiceSetting, _u32, _u32)),
]


def _serve(frames: list[c.Frame]) -> None:
    """What a server does with each frame: decode its body; only the codec's error may come out."""
    for frame in frames:
        with contextlib.suppress(c.TeamTalkDecodeError):
            c.decode_body(frame)


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=8))
def test_random_bytes_give_frames_or_the_codecs_error_only(data: bytes, cuts: list[int]) -> None:
    frames, _ = feed_all(c.Decoder(256).feed, c.TeamTalkDecodeError, chunks(data, cuts))
    _serve(frames)


@FUZZ
@given(mutated_stream(SEEDS), st.lists(st.integers(0, 1000), max_size=8))
def test_mutated_frames_give_frames_or_the_codecs_error_only(data: bytes, cuts: list[int]) -> None:
    whole, whole_err = feed_all(c.Decoder(1024).feed, c.TeamTalkDecodeError, [data])
    split, split_err = feed_all(c.Decoder(1024).feed, c.TeamTalkDecodeError, chunks(data, cuts))
    assert split == whole and (split_err is None) == (whole_err is None)
    _serve(whole)


@FUZZ
@given(mutated_stream(SEEDS))
def test_byte_at_a_time_feeding_gives_the_same_frames(data: bytes) -> None:
    whole, _ = feed_all(c.Decoder(1024).feed, c.TeamTalkDecodeError, [data])
    one_by_one, _ = feed_all(
        c.Decoder(1024).feed, c.TeamTalkDecodeError, [data[i : i + 1] for i in range(len(data))]
    )
    assert one_by_one == whole


@FUZZ
@given(st.sampled_from(BODIES).flatmap(lambda kb: st.tuples(st.just(kb[0]), kb[1])), st.integers(0, 0xFFFF))
def test_every_body_survives_encode_then_decode(keyed: tuple[tuple[int, int], c.Body], reserved: int) -> None:
    key, body = keyed
    wire = c.frame_of(key, reserved, body)
    [frame] = c.Decoder(c.MAX_FILE_FRAME).feed(wire)
    assert (frame.key, frame.reserved) == (key, reserved)
    decoded = c.decode_body(frame)
    assert c.frame_of(key, reserved, decoded) == wire
