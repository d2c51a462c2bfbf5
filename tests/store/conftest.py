"""Fixtures of the store suite: ``backend`` and ``store`` run each test once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from polyim.store.base import Store
from tests.store.support import BACKENDS, Backend


@pytest.fixture(
    params=[pytest.param(b, marks=[pytest.mark.scaled] if b.name != "sqlite" else []) for b in BACKENDS],
    ids=lambda factory: str(factory.name),
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    factory: Callable[[Path], Backend] = request.param
    return factory(tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.make()
    await s.open()
    yield s
    await s.close()
