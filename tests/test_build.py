"""The build a test run exercises is the one it was asked to: scripts/test runs the suite once on the
mypyc build and once on pure Python, and a stale or missing extension would silently test the other."""

from __future__ import annotations

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
