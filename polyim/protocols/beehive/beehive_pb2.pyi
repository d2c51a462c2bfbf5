from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class mesg_online(_message.Message):
    __slots__ = ("uid", "sid", "token", "app", "version", "terminal")
    UID_FIELD_NUMBER: _ClassVar[int]
    SID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    uid: int
    sid: int
    token: str
    app: str
    version: str
    terminal: int
    def __init__(self, uid: _Optional[int] = ..., sid: _Optional[int] = ..., token: _Optional[str] = ..., app: _Optional[str] = ..., version: _Optional[str] = ..., terminal: _Optional[int] = ...) -> None: ...

class mesg_online_ack(_message.Message):
    __slots__ = ("uid", "sid", "seq", "app", "version", "terminal", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    SID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    sid: int
    seq: int
    app: str
    version: str
    terminal: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., sid: _Optional[int] = ..., seq: _Optional[int] = ..., app: _Optional[str] = ..., version: _Optional[str] = ..., terminal: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_sub(_message.Message):
    __slots__ = ("cmd",)
    CMD_FIELD_NUMBER: _ClassVar[int]
    cmd: int
    def __init__(self, cmd: _Optional[int] = ...) -> None: ...

class mesg_sub_ack(_message.Message):
    __slots__ = ("cmd", "code", "errmsg")
    CMD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    cmd: int
    code: int
    errmsg: str
    def __init__(self, cmd: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_unsub(_message.Message):
    __slots__ = ("cmd",)
    CMD_FIELD_NUMBER: _ClassVar[int]
    cmd: int
    def __init__(self, cmd: _Optional[int] = ...) -> None: ...

class mesg_unsub_ack(_message.Message):
    __slots__ = ("cmd", "code", "errmsg")
    CMD_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    cmd: int
    code: int
    errmsg: str
    def __init__(self, cmd: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_error(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_sync(_message.Message):
    __slots__ = ("uid",)
    UID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    def __init__(self, uid: _Optional[int] = ...) -> None: ...

class mesg_sync_ack(_message.Message):
    __slots__ = ("uid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_kick(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_online_ntf(_message.Message):
    __slots__ = ("uid", "status", "terminal")
    UID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    uid: int
    status: int
    terminal: int
    def __init__(self, uid: _Optional[int] = ..., status: _Optional[int] = ..., terminal: _Optional[int] = ...) -> None: ...

class mesg_offline_ntf(_message.Message):
    __slots__ = ("uid", "time")
    UID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    uid: int
    time: int
    def __init__(self, uid: _Optional[int] = ..., time: _Optional[int] = ...) -> None: ...

class mesg_chat(_message.Message):
    __slots__ = ("suid", "duid", "level", "time", "text", "data")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    level: int
    time: int
    text: str
    data: bytes
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ..., level: _Optional[int] = ..., time: _Optional[int] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class mesg_chat_ack(_message.Message):
    __slots__ = ("suid", "duid", "code", "errmsg")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    code: int
    errmsg: str
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_friend_add(_message.Message):
    __slots__ = ("suid", "duid", "mark")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    mark: str
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ..., mark: _Optional[str] = ...) -> None: ...

class mesg_friend_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_friend_del(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_friend_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_blacklist_add(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_blacklist_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_blacklist_del(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_blacklist_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_gag_add(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_gag_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_gag_del(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_gag_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_mark_add(_message.Message):
    __slots__ = ("suid", "duid", "mark")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    MARK_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    mark: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ..., mark: _Optional[int] = ...) -> None: ...

class mesg_mark_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_mark_del(_message.Message):
    __slots__ = ("suid", "duid")
    SUID_FIELD_NUMBER: _ClassVar[int]
    DUID_FIELD_NUMBER: _ClassVar[int]
    suid: int
    duid: int
    def __init__(self, suid: _Optional[int] = ..., duid: _Optional[int] = ...) -> None: ...

class mesg_mark_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_creat(_message.Message):
    __slots__ = ("uid", "gid", "name", "desc")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    name: str
    desc: str
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ..., name: _Optional[str] = ..., desc: _Optional[str] = ...) -> None: ...

class mesg_group_creat_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_dismiss(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_dismiss_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_join(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_join_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_quit(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_quit_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_invite(_message.Message):
    __slots__ = ("uid", "gid", "to")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    to: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ..., to: _Optional[int] = ...) -> None: ...

class mesg_group_invite_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_chat(_message.Message):
    __slots__ = ("uid", "gid", "level", "time", "text", "data")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    level: int
    time: int
    text: str
    data: bytes
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ..., level: _Optional[int] = ..., time: _Optional[int] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class mesg_group_chat_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_kick(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_kick_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_gag_add(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_gag_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_gag_del(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_gag_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_bl_add(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_bl_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_bl_del(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_bl_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_mgr_add(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_mgr_add_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_mgr_del(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_mgr_del_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_group_usr_list(_message.Message):
    __slots__ = ("gid", "num")
    GID_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    gid: int
    num: int
    def __init__(self, gid: _Optional[int] = ..., num: _Optional[int] = ...) -> None: ...

class mesg_group_usr_list_ack(_message.Message):
    __slots__ = ("gid", "list")
    GID_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    gid: int
    list: str
    def __init__(self, gid: _Optional[int] = ..., list: _Optional[str] = ...) -> None: ...

class mesg_group_join_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_quit_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_kick_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_gag_add_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_gag_del_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_bl_add_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_bl_del_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_mgr_add_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_group_mgr_del_ntf(_message.Message):
    __slots__ = ("uid", "gid")
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    gid: int
    def __init__(self, uid: _Optional[int] = ..., gid: _Optional[int] = ...) -> None: ...

class mesg_room_creat(_message.Message):
    __slots__ = ("uid", "name", "desc")
    UID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    uid: int
    name: str
    desc: str
    def __init__(self, uid: _Optional[int] = ..., name: _Optional[str] = ..., desc: _Optional[str] = ...) -> None: ...

class mesg_room_creat_ack(_message.Message):
    __slots__ = ("uid", "rid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_dismiss(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_dismiss_ack(_message.Message):
    __slots__ = ("code", "errmsg")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    code: int
    errmsg: str
    def __init__(self, code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_join(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_join_ack(_message.Message):
    __slots__ = ("uid", "rid", "gid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    gid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., gid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_quit(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_quit_ack(_message.Message):
    __slots__ = ("uid", "rid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_kick(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_kick_ack(_message.Message):
    __slots__ = ("uid", "rid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_chat(_message.Message):
    __slots__ = ("uid", "rid", "gid", "level", "time", "text", "data")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    gid: int
    level: int
    time: int
    text: str
    data: bytes
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., gid: _Optional[int] = ..., level: _Optional[int] = ..., time: _Optional[int] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class mesg_room_chat_ack(_message.Message):
    __slots__ = ("uid", "rid", "gid", "code", "errmsg")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    gid: int
    code: int
    errmsg: str
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ..., gid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_bc(_message.Message):
    __slots__ = ("rid", "msgid", "level", "time", "expire", "data")
    RID_FIELD_NUMBER: _ClassVar[int]
    MSGID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    rid: int
    msgid: int
    level: int
    time: int
    expire: int
    data: bytes
    def __init__(self, rid: _Optional[int] = ..., msgid: _Optional[int] = ..., level: _Optional[int] = ..., time: _Optional[int] = ..., expire: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class mesg_room_bc_ack(_message.Message):
    __slots__ = ("rid", "msgid", "code", "errmsg")
    RID_FIELD_NUMBER: _ClassVar[int]
    MSGID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRMSG_FIELD_NUMBER: _ClassVar[int]
    rid: int
    msgid: int
    code: int
    errmsg: str
    def __init__(self, rid: _Optional[int] = ..., msgid: _Optional[int] = ..., code: _Optional[int] = ..., errmsg: _Optional[str] = ...) -> None: ...

class mesg_room_usr_num(_message.Message):
    __slots__ = ("rid", "num")
    RID_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    rid: int
    num: int
    def __init__(self, rid: _Optional[int] = ..., num: _Optional[int] = ...) -> None: ...

class mesg_room_lsn_stat(_message.Message):
    __slots__ = ("rid", "nid", "num")
    RID_FIELD_NUMBER: _ClassVar[int]
    NID_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    rid: int
    nid: int
    num: int
    def __init__(self, rid: _Optional[int] = ..., nid: _Optional[int] = ..., num: _Optional[int] = ...) -> None: ...

class mesg_room_join_ntf(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_quit_ntf(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_room_kick_ntf(_message.Message):
    __slots__ = ("uid", "rid")
    UID_FIELD_NUMBER: _ClassVar[int]
    RID_FIELD_NUMBER: _ClassVar[int]
    uid: int
    rid: int
    def __init__(self, uid: _Optional[int] = ..., rid: _Optional[int] = ...) -> None: ...

class mesg_lsnd_info(_message.Message):
    __slots__ = ("type", "nid", "opid", "nation", "ip", "port", "connections")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NID_FIELD_NUMBER: _ClassVar[int]
    OPID_FIELD_NUMBER: _ClassVar[int]
    NATION_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    type: int
    nid: int
    opid: int
    nation: str
    ip: str
    port: int
    connections: int
    def __init__(self, type: _Optional[int] = ..., nid: _Optional[int] = ..., opid: _Optional[int] = ..., nation: _Optional[str] = ..., ip: _Optional[str] = ..., port: _Optional[int] = ..., connections: _Optional[int] = ...) -> None: ...

class mesg_frwd_info(_message.Message):
    __slots__ = ("nid", "ip", "forward_port", "backend_port")
    NID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    FORWARD_PORT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_PORT_FIELD_NUMBER: _ClassVar[int]
    nid: int
    ip: str
    forward_port: int
    backend_port: int
    def __init__(self, nid: _Optional[int] = ..., ip: _Optional[str] = ..., forward_port: _Optional[int] = ..., backend_port: _Optional[int] = ...) -> None: ...
