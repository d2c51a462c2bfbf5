"""make_store: ``[storage] url`` picks the backend; a url no backend takes is refused at start-up.
make_file_store: offline files under the data directory, with the ``[files]`` limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyim.config import ConfigError, Settings, load
from polyim.protocols.registry import sections
from polyim.store.factory import make_file_store, make_store
from polyim.store.files import LocalFileStore
from polyim.store.postgres import PostgresStore
from polyim.store.sqlite import SqliteStore


def test_empty_url_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = make_store("", tmp_path)
    assert isinstance(store, SqliteStore) and store.path == str(tmp_path / "polyim.db")


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    store = make_store(f"sqlite:///{tmp_path}/x.db", "/unused")
    assert isinstance(store, SqliteStore) and store.path == f"{tmp_path}/x.db"
    relative = make_store("sqlite:///./data/polyim.db", tmp_path)
    assert isinstance(relative, SqliteStore) and relative.path == "./data/polyim.db"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mysql://x", "unknown scheme 'mysql' (this build has postgres://, postgresql://, sqlite://)"),
        ("polyim.db", "unknown scheme 'polyim.db'"),
        ("sqlite://host/x.db", "a SQLite url is sqlite:///PATH"),
        ("sqlite:///", "a SQLite url is sqlite:///PATH"),
    ],
)
def test_a_url_no_backend_takes_is_a_config_error(tmp_path: Path, url: str, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        make_store(url, tmp_path)
    assert error in str(exc.value) and repr(url) in str(exc.value)


def test_postgresql_url_is_the_postgresql_store(tmp_path: Path) -> None:
    for url in ("postgresql://u:pw@db:5432/im", "postgres://u@db/im"):
        store = make_store(url, tmp_path)
        assert isinstance(store, PostgresStore) and store.dsn == url


def test_file_store_lives_under_the_data_dir_with_the_configured_limit(tmp_path: Path) -> None:
    settings = _load_settings(
        tmp_path, f'[server]\ndata_dir = "{tmp_path}"\n[files]\nmax_file_bytes = 4096\n'
    )
    files = make_file_store(settings.server.data_dir, settings.files.max_file_bytes)
    assert isinstance(files, LocalFileStore)
    assert (files.root, files.max_file_bytes) == (tmp_path / "files", 4096)
    assert Settings().files.max_file_bytes == 512 * 1024 * 1024


def _load_settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "polyim.toml"
    path.write_text(text, encoding="utf-8")
    return load(str(path), sections())
