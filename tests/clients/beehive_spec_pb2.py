"""beehive message bodies for the independent test client, built from beehive.md §3 (not from polyim).

There is no protoc here, so the descriptor is assembled in Python from the spec's field table and
registered under its own proto package ``beehive_test``; it cannot clash with the server's ``beehive``
package in the default descriptor pool. Only the bodies the tests use are listed.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_U64 = descriptor_pb2.FieldDescriptorProto.TYPE_UINT64
_U32 = descriptor_pb2.FieldDescriptorProto.TYPE_UINT32
_STR = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_REQ = descriptor_pb2.FieldDescriptorProto.LABEL_REQUIRED
_OPT = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL

_CODE = [("code", _U32, _REQ), ("errmsg", _STR, _REQ)]
_PAIR = [("suid", _U64, _REQ), ("duid", _U64, _REQ)]
_UG = [("uid", _U64, _REQ), ("gid", _U64, _REQ)]
_UR = [("uid", _U64, _REQ), ("rid", _U64, _REQ)]

# message name -> fields in field-number order (number = position + 1), as listed in beehive.md §3.
SCHEMA: dict[str, list[tuple[str, int, int]]] = {
    "mesg_online": [
        ("uid", _U64, _REQ),
        ("sid", _U64, _REQ),
        ("token", _STR, _REQ),
        ("app", _STR, _REQ),
        ("version", _STR, _REQ),
        ("terminal", _U32, _OPT),
    ],
    "mesg_online_ack": [
        ("uid", _U64, _REQ),
        ("sid", _U64, _REQ),
        ("seq", _U64, _REQ),
        ("app", _STR, _REQ),
        ("version", _STR, _REQ),
        ("terminal", _U32, _OPT),
        *_CODE,
    ],
    "mesg_sub": [("cmd", _U32, _OPT)],
    "mesg_sub_ack": [("cmd", _U32, _REQ), *_CODE],
    "mesg_error": _CODE,
    "mesg_sync": [("uid", _U64, _REQ)],
    "mesg_sync_ack": [("uid", _U64, _REQ), *_CODE],
    "mesg_kick": _CODE,
    "mesg_online_ntf": [("uid", _U64, _REQ), ("status", _U32, _OPT), ("terminal", _U32, _OPT)],
    "mesg_offline_ntf": [("uid", _U64, _REQ), ("time", _U64, _OPT)],
    "mesg_chat": [
        *_PAIR,
        ("level", _U32, _REQ),
        ("time", _U64, _REQ),
        ("text", _STR, _REQ),
        ("data", _BYTES, _OPT),
    ],
    "mesg_chat_ack": [*_PAIR, *_CODE],
    "mesg_friend_add": [*_PAIR, ("mark", _STR, _REQ)],
    "mesg_friend_add_ack": _CODE,
    "mesg_friend_del": _PAIR,
    "mesg_friend_del_ack": _CODE,
    "mesg_blacklist_add": _PAIR,
    "mesg_blacklist_add_ack": _CODE,
    "mesg_blacklist_del": _PAIR,
    "mesg_blacklist_del_ack": _CODE,
    "mesg_group_creat": [*_UG, ("name", _STR, _REQ), ("desc", _STR, _REQ)],
    "mesg_group_creat_ack": _CODE,
    "mesg_group_join": _UG,
    "mesg_group_join_ack": _CODE,
    "mesg_group_chat": [
        *_UG,
        ("level", _U32, _REQ),
        ("time", _U64, _REQ),
        ("text", _STR, _REQ),
        ("data", _BYTES, _OPT),
    ],
    "mesg_group_chat_ack": _CODE,
    "mesg_group_join_ntf": _UG,
    "mesg_group_quit": _UG,
    "mesg_group_quit_ack": _CODE,
    "mesg_group_invite": [*_UG, ("to", _U64, _REQ)],
    "mesg_group_invite_ack": _CODE,
    "mesg_group_usr_list": [("gid", _U64, _REQ), ("num", _U32, _REQ)],
    "mesg_group_usr_list_ack": [("gid", _U64, _REQ), ("list", _STR, _REQ)],
    "mesg_group_quit_ntf": _UG,
    "mesg_unsub": [("cmd", _U32, _REQ)],
    "mesg_unsub_ack": [("cmd", _U32, _REQ), *_CODE],
    "mesg_room_creat": [("uid", _U64, _REQ), ("name", _STR, _REQ), ("desc", _STR, _REQ)],
    "mesg_room_creat_ack": [*_UR, *_CODE],
    "mesg_room_dismiss": _UR,
    "mesg_room_dismiss_ack": _CODE,
    "mesg_room_join": _UR,
    "mesg_room_join_ack": [*_UR, ("gid", _U32, _REQ), *_CODE],
    "mesg_room_quit": _UR,
    "mesg_room_quit_ack": [*_UR, *_CODE],
    "mesg_room_kick": _UR,
    "mesg_room_kick_ack": [*_UR, *_CODE],
    "mesg_room_chat": [
        *_UR,
        ("gid", _U32, _REQ),
        ("level", _U32, _REQ),
        ("time", _U64, _REQ),
        ("text", _STR, _REQ),
        ("data", _BYTES, _OPT),
    ],
    "mesg_room_chat_ack": [*_UR, ("gid", _U32, _REQ), *_CODE],
    "mesg_room_bc": [
        ("rid", _U64, _REQ),
        ("msgid", _U64, _REQ),
        ("level", _U32, _REQ),
        ("time", _U64, _REQ),
        ("expire", _U32, _REQ),
        ("data", _BYTES, _REQ),
    ],
    "mesg_room_bc_ack": [("rid", _U64, _REQ), ("msgid", _U64, _REQ), *_CODE],
    "mesg_room_usr_num": [("rid", _U64, _REQ), ("num", _U32, _REQ)],
    "mesg_room_join_ntf": _UR,
    "mesg_room_quit_ntf": _UR,
    "mesg_room_kick_ntf": _UR,
    "mesg_mark_add": [*_PAIR, ("mark", _U64, _REQ)],
    "mesg_mark_add_ack": _CODE,
    "mesg_gag_add": _PAIR,
    "mesg_gag_add_ack": _CODE,
    "mesg_gag_del": _PAIR,
    "mesg_gag_del_ack": _CODE,
    "mesg_group_dismiss": _UG,
    "mesg_group_dismiss_ack": _CODE,
    "mesg_group_kick": _UG,
    "mesg_group_kick_ack": _CODE,
    "mesg_group_kick_ntf": _UG,
    **{
        f"mesg_group_{what}_{op}{suffix}": (_CODE if suffix == "_ack" else _UG)
        for what in ("gag", "bl", "mgr")
        for op in ("add", "del")
        for suffix in ("", "_ack", "_ntf")
    },
}


def _build() -> dict[str, Any]:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="beehive_spec.proto", package="beehive_test", syntax="proto2"
    )
    for name, fields in SCHEMA.items():
        mp = fdp.message_type.add(name=name)
        for number, (fname, ftype, label) in enumerate(fields, start=1):
            mp.field.add(name=fname, number=number, type=ftype, label=label)
    pool = descriptor_pool.Default()
    try:
        fd = pool.FindFileByName(fdp.name)
    except KeyError:
        fd = pool.AddSerializedFile(fdp.SerializeToString())
    return {name: message_factory.GetMessageClass(fd.message_types_by_name[name]) for name in SCHEMA}


MESSAGES = _build()
