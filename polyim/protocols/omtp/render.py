"""Core records → OMTP packs: the stored pack of a message and the notice of a control (omtp.md §5.3.6)."""

from __future__ import annotations

import uuid
from typing import Final

from polyim.model import Control, ConvKind, Message, MsgStatus
from polyim.protocols.omtp import codec as c
from polyim.protocols.omtp import ids

_STATUS_FLAGS: Final = {MsgStatus.RECALLED: c.FLAG_REVOKE, MsgStatus.EDITED: c.FLAG_OVERRIDE}


def pack_id_of(message: Message) -> str:
    """Every copy of one message carries one packId: the OMTP sender's own, else ``pim-<msg_id>``.

    Notifications keep the packId they were created with (the HTTP traceId or the operator's packId,
    omtp.md §5.4) in ``extra["pack_id"]``: their ``client_id`` is a dedup key with a prefix."""
    explicit = message.extra.get("pack_id")
    if isinstance(explicit, str) and explicit:
        return explicit
    if message.extra.get("origin") == "omtp" and message.client_id:
        return message.client_id
    return f"pim-{message.msg_id}"


def _from_to(message: Message) -> tuple[int, str, str]:
    conv = message.conv
    if conv.kind is ConvKind.GROUP:
        return c.PackType.MSG_GROUP_CHAT, str(message.sender), ids.group_id(conv.a)
    if conv.kind is ConvKind.NOTIFY:
        return c.PackType.MSG_BIZ_NOTIFY, str(message.extra.get("from", message.sender)), str(conv.a)
    return c.PackType.MSG_SINGLE_CHAT, str(message.sender), str(message.recipient)


def stored_pack(message: Message) -> c.Pack:
    type_, version, flags, pack_id, payload = _stored(message)
    header = c.Header(type=type_, version=version, flags=flags, pack_id=pack_id)
    return c.Pack(header=header, payload=payload)


def stored_frame(message: Message) -> bytes:
    """``encode_pack(stored_pack(message))`` without building the pack: every delivery is written by this."""
    type_, version, flags, pack_id, payload = _stored(message)
    return c.encode_frame(type_, version, flags, pack_id, payload)


def _stored(message: Message) -> tuple[int, int, int, str, bytes]:
    """The stored pack's header fields and its MsgReq payload."""
    pack_type, from_, to = _from_to(message)
    extra = message.extra
    flags = c.FLAG_HIGHPRJ if extra.get("priority") else 0
    if pack_type == c.PackType.MSG_BIZ_NOTIFY:
        flags |= c.FLAG_COUNTER
    flags |= _STATUS_FLAGS.get(message.status, 0)
    payload = c.encode_msg_req(
        ids.message_session_id(message),
        message.seq,
        message.ts_ms,
        from_,
        to,
        message.ctype,
        message.content,
        0,
        str(extra.get("push_title", "")),
        str(extra.get("push_summary", "")),
        str(extra.get("push_url", "")),
    )
    return pack_type, int(extra.get("omtp.v", 1)), flags, pack_id_of(message), payload


def control_pack(control: Control, message: Message | None) -> c.Pack:
    """The MSG_CTRL notice: the request as sent (canonical sessionId), or an equivalent one for a
    control made through another protocol."""
    target = pack_id_of(message) if message is not None else control.target_client_id
    body = c.MsgControl(
        command=int(control.cmd),
        session_id=ids.canonical(control.conv, message.topic if message else ""),
        pack_id=target,
        seq_id=control.seq,
        content=control.content,
    )
    header = c.Header(
        type=c.PackType.MSG_CTRL, version=1, flags=0, pack_id=control.client_id or str(uuid.uuid4())
    )
    return c.Pack(header=header, payload=body.encode())
