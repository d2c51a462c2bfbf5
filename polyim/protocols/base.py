"""What every protocol codec shares: the error base and fast construction of frozen frames.

A codec raises only its own ``<Name>DecodeError``, a subclass of :class:`ProtocolError`, for anything a
peer sent that cannot be understood; the transport answers it with an error frame or a clean close.
"""

import dataclasses
import inspect
from typing import Any, cast

from librt.strings import read_i32_be, read_i64_be
from mypy_extensions import i64, mypyc_attr


# A codec that is not (yet) compiled subclasses it from interpreted code.
@mypyc_attr(allow_interpreted_subclasses=True)
class ProtocolError(Exception):
    """The remote peer sent bytes that violate its protocol."""


def joined(buffer: bytearray, data: bytes, need: int) -> bytes | None:
    """``data`` behind what a stream decoder holds in ``buffer``, as one ``bytes`` to cut frames from
    (``buffer`` emptied); None, ``data`` kept in ``buffer``, while that is shorter than ``need``, the
    length its first frame needs. With nothing held, ``data`` itself: the common read of whole frames
    is never copied, and a frame that trickles in is copied once, when it is whole."""
    if not buffer:
        return data
    buffer += data
    if len(buffer) < need:
        return None
    whole = bytes(buffer)
    buffer.clear()
    return whole


def u32_at(buf: bytes, pos: int) -> int:
    """The big-endian unsigned 32-bit integer at ``pos`` (a frame's length, a header's seq); IndexError
    when ``buf`` ends first. ``read_i32_be`` is one native load under mypyc (four indexings and their
    shifts on tagged integers cost ~120 instructions; ``struct``'s ``unpack_from`` more, and a tuple)."""
    return int(i64(read_i32_be(buf, pos)) & 0xFFFF_FFFF)


def u64_at(buf: bytes, pos: int) -> int:
    """The big-endian unsigned 64-bit integer at ``pos``, as :func:`u32_at` (an id, a sequence number)."""
    value = read_i64_be(buf, pos)
    return int(value) if value >= 0 else int(value) + (1 << 64)


def fast_init(cls: type) -> None:
    """Give the frozen slotted dataclass ``cls`` an ``__init__`` that stores through its slots' member
    descriptors instead of ``object.__setattr__`` (which looks each name up): 0.3 µs less per construction,
    and adapters build several per message.  Same signature (annotations included, checked here),
    defaults, qualified name and errors as the generated one; the stored objects are the very same.  A class
    with anything the plain stores would skip (``__post_init__``, default factories, init-only or keyword-only
    fields) keeps the generated ``__init__``.
    """
    generated = cls.__dict__["__init__"]
    fields = dataclasses.fields(cast(Any, cls))
    if (
        hasattr(cls, "__post_init__")
        or any(not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields)
        or [f.name for f in fields] != list(inspect.signature(generated).parameters)[1:]
    ):
        return
    namespace: dict[str, Any] = {}
    params = ["self"]
    for f in fields:
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields) or "    pass\n"
    exec(f"def __init__({', '.join(params)}):\n{body}", namespace)  # the way dataclasses builds its own
    init = namespace["__init__"]
    init.__qualname__ = generated.__qualname__
    init.__module__ = generated.__module__
    init.__annotations__ = generated.__annotations__
    if inspect.signature(init) != inspect.signature(generated):
        raise TypeError(f"{cls.__name__}: fast __init__ would change the signature")
    cls.__init__ = init  # type: ignore[misc]
