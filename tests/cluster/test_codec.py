"""Every core event, and every envelope, round-trips through the one serializer.

The instances are built from the events' type hints, with a value unlike the field's default in every
field, so a new event type (or a new field) is covered without editing this file, and one the codec
cannot carry fails here.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import itertools
import typing
from dataclasses import dataclass
from typing import Any

import pytest

from polyim.cluster import codec
from polyim.cluster.base import SessionId
from polyim.cluster.codec import (
    LOCAL_FIELDS,
    Broadcast,
    Delivery,
    Kick,
    RoomCast,
    decode_envelope,
    decode_event,
    encode_envelope,
    encode_event,
    field_types,
)
from polyim.core import events
from polyim.core.events import Event, KickReason, MessageEvent, RoomEvent
from polyim.model import ConvId, Message

EVENT_TYPES = typing.get_args(Event)
_numbers = itertools.count(7)


def sample(tp: Any, default: Any = dataclasses.MISSING) -> Any:
    """A value of type ``tp`` (unlike ``default``), built from the type alone."""
    n = next(_numbers)
    if tp is bool:
        return default is not True
    if tp is int:
        return (1 << 40) + n
    if tp is float:
        return n + 0.5
    if tp is str:
        return f"text {n} — ünïcode ✓"
    if tp is bytes:
        return bytes([0, 255, n % 256]) + b"binary"
    if tp is ConvId:
        return [ConvId.peer(n, n + 1), ConvId.group(n), ConvId.room(n), ConvId.notify(n)][n % 4]
    if tp is Any:
        return {"k": [1, "v", None, True], "nested": {"x": 1.5}}
    if isinstance(tp, typing.NewType):
        return sample(tp.__supertype__)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(m for m in reversed(list(tp)) if m != default)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return (sample(args[0]), sample(args[0]))
    if origin is dict:
        return {"a": sample(args[1]), "b": sample(args[1])}
    return sample(next(a for a in args if a is not type(None)))  # X | None: the X


def build(cls: type) -> Any:
    hints = field_types(cls)
    return cls(
        **{
            f.name: sample(hints[f.name], f.default)
            for f in dataclasses.fields(cls)
            if f.init and f.name not in LOCAL_FIELDS
        }
    )


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Field by field, including the ones dataclass equality skips (``Message.extra``)."""
    assert type(a) is type(b), path
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in LOCAL_FIELDS:
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_every_event_class_is_an_event() -> None:
    """A new event dataclass in polyim.core.events must join ``Event`` (and so this round trip)."""
    declared = {
        cls
        for _, cls in inspect.getmembers(events, inspect.isclass)
        if dataclasses.is_dataclass(cls)
        and cls.__module__ == events.__name__
        and cls.__name__.endswith("Event")
    }
    assert declared == set(EVENT_TYPES)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_event_round_trips(cls: type) -> None:
    event = build(cls)
    data = encode_event(event)
    assert isinstance(data, bytes)
    decoded = decode_event(data)
    assert_same(event, decoded)
    assert decoded == event
    assert encode_event(decoded) == data


def test_a_message_keeps_its_interned_conversation_and_its_extra() -> None:
    message = Message(ConvId.group(42), 3, 99, 10000, "pc", "c1", 1, "hi", 5, extra={"mentions": [1, 2]})
    decoded = decode_event(encode_event(MessageEvent(message, "omtp")))
    assert isinstance(decoded, MessageEvent)
    assert decoded.message.conv is ConvId.group(42)
    assert decoded.message.extra == {"mentions": [1, 2]} and decoded.origin_protocol == "omtp"


def test_rendered_frames_stay_on_their_node() -> None:
    event = RoomEvent(7, events.RoomChange.COUNT, count=3)
    event.wire_cache["beehive"] = b"frame"
    assert b"frame" not in encode_event(event) and b"wire_cache" not in encode_event(event)
    assert decode_event(encode_event(event)).wire_cache == {}  # type: ignore[union-attr]
    message = Message(ConvId.group(42), 3, 99, 10000, "pc", "c1", 1, "hi", 5)
    message.keep_rendered("omtp", b"frame")
    data = encode_event(MessageEvent(message))
    decoded = decode_event(data)
    assert b"frame" not in data and isinstance(decoded, MessageEvent)
    assert decoded.message.rendered("omtp") is None and decoded.message == message


def test_envelopes_round_trip() -> None:
    for cls in (Delivery, Kick, RoomCast, Broadcast):
        envelope = build(cls)
        assert_same(decode_envelope(encode_envelope(envelope)), envelope)
    kick = Kick(SessionId(5), KickReason.DUPLICATE_LOGIN)
    assert decode_envelope(encode_envelope(kick)) == kick
    assert decode_envelope(encode_envelope(RoomCast(7))) == RoomCast(7)


def test_a_field_the_codec_cannot_carry_fails_at_once() -> None:
    @dataclass
    class Odd:
        tags: set[int]

    with pytest.raises(TypeError, match="no serializer"):
        codec._codec(Odd)
