"""The build a test run exercises is the one it was asked to: scripts/test runs the suite once on the
mypyc build and once on pure Python, and a stale or missing extension would silently test the other."""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os

import pytest

from polyim import build
from tests.conftest import Server

EXPECTED = os.environ.get("POLYIM_EXPECT_BUILD", "")


@pytest.mark.skipif(not EXPECTED, reason="POLYIM_EXPECT_BUILD not set (scripts/test sets it)")
def test_every_listed_module_is_the_expected_build() -> None:
    assert build.kind() == EXPECTED
    assert {build.is_compiled(name) for name in build.COMPILED_MODULES} == {EXPECTED == "mypyc"}


def test_serve_prints_the_build_it_runs(server: Server) -> None:
    assert server.build == build.describe()
    assert server.build in ("compiled (mypyc)", "pure-python")
    if EXPECTED:
        assert server.build == ("compiled (mypyc)" if EXPECTED == "mypyc" else "pure-python")


# Built for every message (decoded, rendered or tracked): each has a written ``__init__`` because the
# one ``dataclass`` generates runs interpreted even in a compiled module (about 1-2 µs a frozen one).
PER_MESSAGE = [
    ("polyim.model", "Message"),
    ("polyim.protocols.beehive.codec", "Header"),
    ("polyim.protocols.beehive.codec", "Frame"),
    ("polyim.protocols.imlc.codec", "Frame"),
    ("polyim.protocols.xmmep.codec", "Frame"),
    ("polyim.protocols.xmmep.codec", "Message"),
    ("polyim.protocols.xmmep.adapter", "Unconfirmed"),
    ("polyim.protocols.teamtalk.codec", "Frame"),
    ("polyim.protocols.teamtalk.codec", "MsgData"),
    ("polyim.protocols.teamtalk.codec", "MsgDataAck"),
    ("polyim.protocols.teamtalk.adapter", "Sending"),
]


@pytest.mark.parametrize(("module", "name"), PER_MESSAGE)
def test_per_message_classes_are_built_by_compiled_code(module: str, name: str) -> None:
    init = vars(getattr(importlib.import_module(module), name))["__init__"]
    if build.is_compiled(module):
        assert type(init).__name__ == "wrapper_descriptor", f"{module}.{name}: interpreted __init__"
    else:
        assert init.__code__.co_filename.endswith(module.replace(".", "/") + ".py")  # written, not generated


@pytest.mark.skipif(build.kind() != "mypyc", reason="the compiled build's shared library")
def test_the_compiled_library_exports_its_init_function_alone() -> None:
    """setup.py compiles with ``-fvisibility=hidden``: an exported compiled function is called through
    the PLT by the others and inlined into none of them (docs/performance.md, "sixteenth pass")."""
    spec = importlib.util.find_spec("polyim.native__mypyc")
    assert spec is not None and spec.origin is not None
    library = ctypes.CDLL(spec.origin)
    assert hasattr(library, "PyInit_native__mypyc")
    for hidden in (
        "CPyDef_model___Message_____init__",
        "CPyDef_messaging___Messaging___send_now",
        "CPyDict_Get",
    ):
        assert not hasattr(library, hidden), f"{hidden} is exported"
