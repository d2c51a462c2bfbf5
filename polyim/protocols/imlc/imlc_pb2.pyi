from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Command(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_RESERVED: _ClassVar[Command]
    COMMAND_LOGIN: _ClassVar[Command]
    COMMAND_LOGOUT: _ClassVar[Command]
    COMMAND_PING: _ClassVar[Command]
    COMMAND_MS: _ClassVar[Command]
    COMMAND_MP: _ClassVar[Command]
    COMMAND_MN: _ClassVar[Command]
    COMMAND_MR: _ClassVar[Command]
    COMMAND_MPS: _ClassVar[Command]
    COMMAND_READ: _ClassVar[Command]
    COMMAND_SYNC: _ClassVar[Command]
    COMMAND_ROOM: _ClassVar[Command]

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_OK: _ClassVar[Status]
    STATUS_BAD_REQUEST: _ClassVar[Status]
    STATUS_UNSUPPORTED_VERSION: _ClassVar[Status]
    STATUS_UNSUPPORTED_COMMAND: _ClassVar[Status]
    STATUS_UNSUPPORTED_FLAG: _ClassVar[Status]
    STATUS_FRAME_TOO_LARGE: _ClassVar[Status]
    STATUS_NOT_LOGGED_IN: _ClassVar[Status]
    STATUS_AUTH_FAILED: _ClassVar[Status]
    STATUS_ACCOUNT_DISABLED: _ClassVar[Status]
    STATUS_THROTTLED: _ClassVar[Status]
    STATUS_IDENTITY_MISMATCH: _ClassVar[Status]
    STATUS_MESSAGE_TOO_LARGE: _ClassVar[Status]
    STATUS_NOT_FOUND: _ClassVar[Status]
    STATUS_FORBIDDEN: _ClassVar[Status]
    STATUS_NOT_MEMBER: _ClassVar[Status]
    STATUS_BLOCKED: _ClassVar[Status]
    STATUS_MUTED: _ClassVar[Status]
    STATUS_ROOM_FULL: _ClassVar[Status]
    STATUS_RECALL_DENIED: _ClassVar[Status]
    STATUS_SERVER_BUSY: _ClassVar[Status]
    STATUS_INTERNAL_ERROR: _ClassVar[Status]

class DeviceClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_CLASS_UNSPECIFIED: _ClassVar[DeviceClass]
    DEVICE_CLASS_DESKTOP: _ClassVar[DeviceClass]
    DEVICE_CLASS_MOBILE: _ClassVar[DeviceClass]
    DEVICE_CLASS_WEB: _ClassVar[DeviceClass]

class LogoutReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOGOUT_REASON_CLIENT: _ClassVar[LogoutReason]
    LOGOUT_REASON_REPLACED: _ClassVar[LogoutReason]
    LOGOUT_REASON_ADMIN: _ClassVar[LogoutReason]
    LOGOUT_REASON_DISABLED: _ClassVar[LogoutReason]
    LOGOUT_REASON_SHUTDOWN: _ClassVar[LogoutReason]
    LOGOUT_REASON_IDLE: _ClassVar[LogoutReason]

class ConversationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_TYPE_SINGLE: _ClassVar[ConversationType]
    CONVERSATION_TYPE_GROUP: _ClassVar[ConversationType]
    CONVERSATION_TYPE_ROOM: _ClassVar[ConversationType]

class MessageContentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_CONTENT_TYPE_UNKNOWN: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_TEXT: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_SOUND: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_IMAGE: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_LOCATION: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_FILE: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_VIDEO: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_STICKER: _ClassVar[MessageContentType]
    MESSAGE_CONTENT_TYPE_TYPING: _ClassVar[MessageContentType]

class MentionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MENTION_TYPE_NONE: _ClassVar[MentionType]
    MENTION_TYPE_TARGETS: _ClassVar[MentionType]
    MENTION_TYPE_ALL: _ClassVar[MentionType]

class MessageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MESSAGE_STATUS_NORMAL: _ClassVar[MessageStatus]
    MESSAGE_STATUS_RECALLED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_EDITED: _ClassVar[MessageStatus]
    MESSAGE_STATUS_DELETED: _ClassVar[MessageStatus]

class PullDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PULL_DIRECTION_FORWARD: _ClassVar[PullDirection]
    PULL_DIRECTION_BACKWARD: _ClassVar[PullDirection]

class RoomOp(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROOM_OP_UNSPECIFIED: _ClassVar[RoomOp]
    ROOM_OP_JOIN: _ClassVar[RoomOp]
    ROOM_OP_LEAVE: _ClassVar[RoomOp]
    ROOM_OP_KICKED: _ClassVar[RoomOp]
    ROOM_OP_COUNT: _ClassVar[RoomOp]
    ROOM_OP_DISMISSED: _ClassVar[RoomOp]
COMMAND_RESERVED: Command
COMMAND_LOGIN: Command
COMMAND_LOGOUT: Command
COMMAND_PING: Command
COMMAND_MS: Command
COMMAND_MP: Command
COMMAND_MN: Command
COMMAND_MR: Command
COMMAND_MPS: Command
COMMAND_READ: Command
COMMAND_SYNC: Command
COMMAND_ROOM: Command
STATUS_OK: Status
STATUS_BAD_REQUEST: Status
STATUS_UNSUPPORTED_VERSION: Status
STATUS_UNSUPPORTED_COMMAND: Status
STATUS_UNSUPPORTED_FLAG: Status
STATUS_FRAME_TOO_LARGE: Status
STATUS_NOT_LOGGED_IN: Status
STATUS_AUTH_FAILED: Status
STATUS_ACCOUNT_DISABLED: Status
STATUS_THROTTLED: Status
STATUS_IDENTITY_MISMATCH: Status
STATUS_MESSAGE_TOO_LARGE: Status
STATUS_NOT_FOUND: Status
STATUS_FORBIDDEN: Status
STATUS_NOT_MEMBER: Status
STATUS_BLOCKED: Status
STATUS_MUTED: Status
STATUS_ROOM_FULL: Status
STATUS_RECALL_DENIED: Status
STATUS_SERVER_BUSY: Status
STATUS_INTERNAL_ERROR: Status
DEVICE_CLASS_UNSPECIFIED: DeviceClass
DEVICE_CLASS_DESKTOP: DeviceClass
DEVICE_CLASS_MOBILE: DeviceClass
DEVICE_CLASS_WEB: DeviceClass
LOGOUT_REASON_CLIENT: LogoutReason
LOGOUT_REASON_REPLACED: LogoutReason
LOGOUT_REASON_ADMIN: LogoutReason
LOGOUT_REASON_DISABLED: LogoutReason
LOGOUT_REASON_SHUTDOWN: LogoutReason
LOGOUT_REASON_IDLE: LogoutReason
CONVERSATION_TYPE_SINGLE: ConversationType
CONVERSATION_TYPE_GROUP: ConversationType
CONVERSATION_TYPE_ROOM: ConversationType
MESSAGE_CONTENT_TYPE_UNKNOWN: MessageContentType
MESSAGE_CONTENT_TYPE_TEXT: MessageContentType
MESSAGE_CONTENT_TYPE_SOUND: MessageContentType
MESSAGE_CONTENT_TYPE_IMAGE: MessageContentType
MESSAGE_CONTENT_TYPE_LOCATION: MessageContentType
MESSAGE_CONTENT_TYPE_FILE: MessageContentType
MESSAGE_CONTENT_TYPE_VIDEO: MessageContentType
MESSAGE_CONTENT_TYPE_STICKER: MessageContentType
MESSAGE_CONTENT_TYPE_TYPING: MessageContentType
MENTION_TYPE_NONE: MentionType
MENTION_TYPE_TARGETS: MentionType
MENTION_TYPE_ALL: MentionType
MESSAGE_STATUS_NORMAL: MessageStatus
MESSAGE_STATUS_RECALLED: MessageStatus
MESSAGE_STATUS_EDITED: MessageStatus
MESSAGE_STATUS_DELETED: MessageStatus
PULL_DIRECTION_FORWARD: PullDirection
PULL_DIRECTION_BACKWARD: PullDirection
ROOM_OP_UNSPECIFIED: RoomOp
ROOM_OP_JOIN: RoomOp
ROOM_OP_LEAVE: RoomOp
ROOM_OP_KICKED: RoomOp
ROOM_OP_COUNT: RoomOp
ROOM_OP_DISMISSED: RoomOp

class Error(_message.Message):
    __slots__ = ("detail", "retry_after_s")
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    detail: str
    retry_after_s: int
    def __init__(self, detail: _Optional[str] = ..., retry_after_s: _Optional[int] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("uid", "username", "password", "token", "device_id", "device_class", "client_version")
    UID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_CLASS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    uid: str
    username: str
    password: str
    token: str
    device_id: str
    device_class: DeviceClass
    client_version: str
    def __init__(self, uid: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., token: _Optional[str] = ..., device_id: _Optional[str] = ..., device_class: _Optional[_Union[DeviceClass, str]] = ..., client_version: _Optional[str] = ...) -> None: ...

class LoginReply(_message.Message):
    __slots__ = ("uid", "username", "nickname", "token", "token_expires_ms", "server_time_ms", "heartbeat_s", "max_body_bytes")
    UID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_BODY_BYTES_FIELD_NUMBER: _ClassVar[int]
    uid: str
    username: str
    nickname: str
    token: str
    token_expires_ms: int
    server_time_ms: int
    heartbeat_s: int
    max_body_bytes: int
    def __init__(self, uid: _Optional[str] = ..., username: _Optional[str] = ..., nickname: _Optional[str] = ..., token: _Optional[str] = ..., token_expires_ms: _Optional[int] = ..., server_time_ms: _Optional[int] = ..., heartbeat_s: _Optional[int] = ..., max_body_bytes: _Optional[int] = ...) -> None: ...

class Logout(_message.Message):
    __slots__ = ("reason", "detail")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    reason: LogoutReason
    detail: str
    def __init__(self, reason: _Optional[_Union[LogoutReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("type", "target")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    type: ConversationType
    target: str
    def __init__(self, type: _Optional[_Union[ConversationType, str]] = ..., target: _Optional[str] = ...) -> None: ...

class MessageContent(_message.Message):
    __slots__ = ("content_type", "searchable_content", "push_content", "data", "mentioned_type", "mentioned_targets", "media_type", "msg_length", "remote_media_url", "local_media_path")
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEARCHABLE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    PUSH_CONTENT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_TYPE_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_TARGETS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    MSG_LENGTH_FIELD_NUMBER: _ClassVar[int]
    REMOTE_MEDIA_URL_FIELD_NUMBER: _ClassVar[int]
    LOCAL_MEDIA_PATH_FIELD_NUMBER: _ClassVar[int]
    content_type: MessageContentType
    searchable_content: str
    push_content: str
    data: bytes
    mentioned_type: MentionType
    mentioned_targets: _containers.RepeatedScalarFieldContainer[str]
    media_type: int
    msg_length: int
    remote_media_url: str
    local_media_path: str
    def __init__(self, content_type: _Optional[_Union[MessageContentType, str]] = ..., searchable_content: _Optional[str] = ..., push_content: _Optional[str] = ..., data: _Optional[bytes] = ..., mentioned_type: _Optional[_Union[MentionType, str]] = ..., mentioned_targets: _Optional[_Iterable[str]] = ..., media_type: _Optional[int] = ..., msg_length: _Optional[int] = ..., remote_media_url: _Optional[str] = ..., local_media_path: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("message_id", "message_content", "conversation", "to", "server_id", "seq", "server_time_ms", "status")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    message_id: int
    message_content: MessageContent
    conversation: Conversation
    to: str
    server_id: int
    seq: int
    server_time_ms: int
    status: MessageStatus
    def __init__(self, message_id: _Optional[int] = ..., message_content: _Optional[_Union[MessageContent, _Mapping]] = ..., conversation: _Optional[_Union[Conversation, _Mapping]] = ..., to: _Optional[str] = ..., server_id: _Optional[int] = ..., seq: _Optional[int] = ..., server_time_ms: _Optional[int] = ..., status: _Optional[_Union[MessageStatus, str]] = ..., **kwargs) -> None: ...

class SendAck(_message.Message):
    __slots__ = ("message_id", "server_id", "seq", "server_time_ms")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    message_id: int
    server_id: int
    seq: int
    server_time_ms: int
    def __init__(self, message_id: _Optional[int] = ..., server_id: _Optional[int] = ..., seq: _Optional[int] = ..., server_time_ms: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("conversation", "anchor_seq", "direction", "limit")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SEQ_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    anchor_seq: int
    direction: PullDirection
    limit: int
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., anchor_seq: _Optional[int] = ..., direction: _Optional[_Union[PullDirection, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class PullReply(_message.Message):
    __slots__ = ("conversation", "messages", "last_seq", "has_more")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    last_seq: int
    has_more: bool
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., last_seq: _Optional[int] = ..., has_more: _Optional[bool] = ...) -> None: ...

class Recall(_message.Message):
    __slots__ = ("conversation", "seq")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    seq: int
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., seq: _Optional[int] = ...) -> None: ...

class Push(_message.Message):
    __slots__ = ("push_id", "conversation", "text", "data", "server_time_ms", "expires_ms")
    PUSH_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    push_id: int
    conversation: Conversation
    text: str
    data: bytes
    server_time_ms: int
    expires_ms: int
    def __init__(self, push_id: _Optional[int] = ..., conversation: _Optional[_Union[Conversation, _Mapping]] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., server_time_ms: _Optional[int] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class ReadCursor(_message.Message):
    __slots__ = ("conversation", "read_seq", "reader")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    READER_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    read_seq: int
    reader: str
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., read_seq: _Optional[int] = ..., reader: _Optional[str] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("since_ms", "limit", "page_token")
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    since_ms: int
    limit: int
    page_token: bytes
    def __init__(self, since_ms: _Optional[int] = ..., limit: _Optional[int] = ..., page_token: _Optional[bytes] = ...) -> None: ...

class ConversationState(_message.Message):
    __slots__ = ("conversation", "last_seq", "last_time_ms", "read_seq", "peer_read_seq", "last_message")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    PEER_READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    last_seq: int
    last_time_ms: int
    read_seq: int
    peer_read_seq: int
    last_message: Message
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., last_seq: _Optional[int] = ..., last_time_ms: _Optional[int] = ..., read_seq: _Optional[int] = ..., peer_read_seq: _Optional[int] = ..., last_message: _Optional[_Union[Message, _Mapping]] = ...) -> None: ...

class SyncReply(_message.Message):
    __slots__ = ("conversations", "has_more", "page_token", "next_since_ms")
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEXT_SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[ConversationState]
    has_more: bool
    page_token: bytes
    next_since_ms: int
    def __init__(self, conversations: _Optional[_Iterable[_Union[ConversationState, _Mapping]]] = ..., has_more: _Optional[bool] = ..., page_token: _Optional[bytes] = ..., next_since_ms: _Optional[int] = ...) -> None: ...

class Room(_message.Message):
    __slots__ = ("rid", "op", "member_count", "last_seq", "detail")
    RID_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    rid: str
    op: RoomOp
    member_count: int
    last_seq: int
    detail: str
    def __init__(self, rid: _Optional[str] = ..., op: _Optional[_Union[RoomOp, str]] = ..., member_count: _Optional[int] = ..., last_seq: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...
