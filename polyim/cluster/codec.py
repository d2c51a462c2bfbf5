"""The one serializer of core events and of the envelopes that carry them between nodes.

Events are dataclasses of plain values, so the encoding follows their type hints: compact JSON with the
event's class name as its tag, fields by name (a node that is one version behind reads what it knows
and takes defaults for the rest), bytes as base64, enums by value, a conversation id by its key. A type
the codec does not know fails when its plan is built, so an event that cannot cross nodes fails its
round-trip test (tests/cluster/test_codec.py), not a cluster in production.

Only events for sessions on other nodes are encoded: a delivery to this node's sessions hands the
object itself to the sink.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import enum
import functools
import json
import operator
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyim.cluster.base import SessionId
from polyim.core.events import Event, KickReason
from polyim.model import ConvId

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]

#: Fields a node keeps for itself: the frames each adapter rendered from the event.
LOCAL_FIELDS = frozenset({"wire_cache"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """``event`` for the sessions ``sids`` of the node that receives the envelope."""

    sids: tuple[SessionId, ...]
    event: Event


@dataclass(frozen=True, slots=True)
class Kick:
    """End the session ``sid`` there, its adapter speaking its own kick frame."""

    sid: SessionId
    reason: KickReason


@dataclass(frozen=True, slots=True)
class RoomCast:
    """Room ``rid``'s ``event`` for the sessions inside it on the node that receives it (membership is
    per node); no event: the room's kept settings or lists changed, to be read again from the store."""

    rid: int
    event: Event | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    """``event`` for every session of the receiving node whose client application is ``app`` (and
    ``version``); every session when ``app`` is empty (an admin broadcast push)."""

    event: Event
    app: str = ""
    version: str = ""


Envelope = Delivery | Kick | RoomCast | Broadcast


def encode_event(event: Event) -> bytes:
    return _dump(_codec(Event)[0](event))


def decode_event(data: bytes) -> Event:
    event: Event = _codec(Event)[1](json.loads(data))
    return event


def encode_envelope(envelope: Envelope) -> bytes:
    return _dump(_codec(Envelope)[0](envelope))


def decode_envelope(data: bytes) -> Envelope:
    envelope: Envelope = _codec(Envelope)[1](json.loads(data))
    return envelope


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _same(value: Any) -> Any:
    return value


@functools.cache
def _codec(tp: Any) -> tuple[Encode, Decode]:
    """The (encode, decode) pair for values of type ``tp``, built once per type."""
    if tp in (int, str, bool, float, Any):  # Any: JSON values as given (Message.extra)
        return _same, _same
    if tp is bytes:
        return (lambda b: base64.b64encode(b).decode("ascii")), base64.b64decode
    if tp is ConvId:  # by key, so the decoded id is the interned one
        return operator.attrgetter("key"), ConvId.from_key
    if isinstance(tp, typing.NewType):
        return _codec(tp.__supertype__)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return operator.attrgetter("value"), tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    return _generic(tp, typing.get_origin(tp), typing.get_args(tp))


def _generic(tp: Any, origin: Any, args: tuple[Any, ...]) -> tuple[Encode, Decode]:
    if origin in (types.UnionType, typing.Union):
        rest = tuple(a for a in args if a is not types.NoneType)
        if len(rest) < len(args):
            return _optional(_codec(functools.reduce(operator.or_, rest)))
        return _tagged(rest)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        enc, dec = _codec(args[0])
        return (lambda v: [enc(x) for x in v]), (lambda v: tuple(dec(x) for x in v))
    if origin is dict and args[0] is str:
        enc, dec = _codec(args[1])
        return (lambda v: {k: enc(x) for k, x in v.items()}), (lambda v: {k: dec(x) for k, x in v.items()})
    raise TypeError(f"no serializer for {tp!r}")


def _optional(inner: tuple[Encode, Decode]) -> tuple[Encode, Decode]:
    enc, dec = inner
    return (lambda v: None if v is None else enc(v)), (lambda v: None if v is None else dec(v))


def _tagged(classes: Sequence[Any]) -> tuple[Encode, Decode]:
    """A union of dataclasses: ``[class name, fields]``."""
    if not all(isinstance(c, type) and dataclasses.is_dataclass(c) for c in classes):
        raise TypeError(f"no serializer for a union of {classes!r}")
    by_name = {c.__name__: _codec(c) for c in classes}

    def encode(value: Any) -> Any:
        name = type(value).__name__
        return [name, by_name[name][0](value)]

    def decode(value: Any) -> Any:
        name, fields = value
        return by_name[name][1](fields)

    return encode, decode


def field_types(cls: type) -> dict[str, Any]:
    """``cls``'s field types as its source spells them. A class compiled by mypyc keeps only erased
    runtime types (``Message | None`` becomes ``type``, ``tuple[int, ...]`` ``tuple``), so the
    annotations of a compiled module are read from its source, which ships beside the extension, and
    evaluated in the module's namespace: both builds get the same plan, hence the same wire format."""
    module = sys.modules[cls.__module__]
    if str(module.__file__).endswith(".py"):
        return typing.get_type_hints(cls)
    namespace = vars(module)
    return {name: eval(text, namespace) for name, text in _annotations(cls.__module__)[cls.__name__].items()}


@functools.cache
def _annotations(module_name: str) -> dict[str, dict[str, str]]:
    """Class name → field name → its annotation's source text, for every class of the module."""
    # Looked up in the package's own directories: a module that mypyc's shared library initialises for
    # another compiled module gets a ``__file__`` (and spec) guessed from the library's place, which an
    # in-place build puts one directory off.
    package, _, name = module_name.rpartition(".")
    found = [Path(d, name + ".py") for d in sys.modules[package].__path__ if Path(d, name + ".py").is_file()]
    if not found:
        raise LookupError(f"no source for {module_name}")
    source = found[0]
    classes: dict[str, dict[str, str]] = {}
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {
                stmt.target.id: ast.unparse(stmt.annotation)
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    return classes


def _dataclass(cls: type) -> tuple[Encode, Decode]:
    hints = field_types(cls)
    plan = [
        (f.name, *_codec(hints[f.name]))
        for f in dataclasses.fields(cls)
        if f.init and f.name not in LOCAL_FIELDS
    ]

    def encode(value: Any) -> Any:
        return {name: enc(getattr(value, name)) for name, enc, _ in plan}

    def decode(value: Any) -> Any:
        return cls(**{name: dec(value[name]) for name, _, dec in plan if name in value})

    return encode, decode
