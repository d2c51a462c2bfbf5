"""Which build of polyim this process runs: compiled (mypyc) or pure Python.

The hot modules below are compiled by mypyc at ``pip install .`` when a C compiler is there
(``setup.py``); without one, when compiling fails, or with ``POLYIM_PURE=1``, the very same modules
run as Python. :func:`kind` looks at what was actually imported, not at how the install was asked
for, so ``polyim serve`` and the test guard report the truth.
"""

import importlib
from typing import Final

#: The modules ``setup.py`` compiles (it reads this tuple without importing polyim): the wire codecs,
#: the channel base, the core's send and delivery path, the store's append and the transport's flush.
COMPILED_MODULES: Final = (
    "polyim.protocols.base",
    "polyim.protocols.protowire",
    "polyim.protocols.omtp.tars",
    "polyim.protocols.omtp.codec",
    "polyim.protocols.beehive.codec",
    "polyim.protocols.imlc.codec",
    "polyim.protocols.xmmep.codec",
    "polyim.protocols.teamtalk.codec",
    "polyim.pending",
    "polyim.protocols.channel",
    "polyim.core.messaging",
    "polyim.core.sessions",
    "polyim.store.sqlite",
    "polyim.transport.connection",
    "polyim.protocols.omtp.ids",
    "polyim.protocols.omtp.render",
    "polyim.protocols.omtp.adapter",
    "polyim.protocols.beehive.adapter",
    "polyim.protocols.imlc.adapter",
    "polyim.protocols.xmmep.adapter",
    "polyim.protocols.teamtalk.adapter",
    "polyim.model",
    "polyim.core.events",
    "polyim.store.base",
    "polyim.store.receipts",
    "polyim.core.context",
    "polyim.core.clock",
    "polyim.histogram",
    "polyim.memo",
    "polyim.core.content",
    "polyim.core.accounts",
    "polyim.core.stats",
    "polyim.protocols.beehive.ids",
)


def is_compiled(name: str) -> bool:
    """Whether module ``name`` was imported from an extension rather than its ``.py`` source."""
    path = getattr(importlib.import_module(name), "__file__", None) or ""
    return not path.endswith(".py")


def kind() -> str:
    """``"mypyc"`` when every listed module is compiled, ``"pure-python"`` when none is, else
    ``"mixed"`` (a stale or partial build: the test guard fails on it)."""
    compiled = {is_compiled(name) for name in COMPILED_MODULES}
    if compiled == {True}:
        return "mypyc"
    return "pure-python" if compiled == {False} else "mixed"


def describe() -> str:
    """The startup line's words: ``compiled (mypyc)`` or ``pure-python``."""
    k = kind()
    return "compiled (mypyc)" if k == "mypyc" else k
