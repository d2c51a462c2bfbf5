"""The delivery's frame is written field by field (``stored_frame``), without the Pack that history pages
and hot sessions carry (``stored_pack``): both must be the same bytes for every message a client may get,
and the generic Tars decoder must read the message back from them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyim.model import ConvId, Message, MsgStatus
from polyim.protocols.omtp import codec
from polyim.protocols.omtp.codec import Decoder, MsgReq, encode_pack
from polyim.protocols.omtp.render import stored_frame, stored_pack

convs = st.one_of(
    st.builds(ConvId.peer, st.integers(1, 10**12), st.integers(1, 10**12)),
    st.builds(ConvId.group, st.integers(1, 10**9)),
    st.builds(ConvId.notify, st.integers(1, 10**9)),
)
texts = st.text(max_size=300)
extras = st.fixed_dictionaries(
    {},
    optional={
        "origin": st.sampled_from(["omtp", "beehive"]),
        "push_title": texts,
        "push_summary": texts,
        "push_url": texts,
        "priority": st.just(1),
        "omtp.v": st.integers(1, 3),
        "pack_id": texts,
        "from": st.sampled_from(["0", "10001"]),
    },
)
messages = st.builds(
    Message,
    conv=convs,
    seq=st.integers(0, 2**40),
    msg_id=st.integers(0, 2**62),
    sender=st.integers(0, 10**12),
    device=st.just("d"),
    client_id=texts,
    ctype=st.integers(0, 300),
    content=texts,
    ts_ms=st.integers(0, 2**45),
    status=st.sampled_from(list(MsgStatus)),
    extra=extras,
    topic=st.sampled_from(["", "BM_app_1"]),
)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_the_delivered_frame_is_the_stored_pack_encoded(message: Message) -> None:
    frame = stored_frame(message)
    assert frame == encode_pack(stored_pack(message))
    (pack,) = Decoder().feed(bytearray(frame))
    body = codec._decode(MsgReq._spec, pack.payload)  # the generic decoder, not the fast path
    assert (body.seq_id, body.timestamp, body.content, body.content_type) == (
        message.seq,
        message.ts_ms,
        message.content,
        message.ctype,
    )
    assert body.push_info.title == str(message.extra.get("push_title", ""))
