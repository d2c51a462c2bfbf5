"""Which :class:`~polyim.store.base.Store` a node runs on: ``[storage] url`` names the backend by its
scheme, so that ``server.py`` and the CLI never name an implementation and a second backend is one more
entry in :data:`BACKENDS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from polyim.config import ConfigError
from polyim.store.base import FileStore, Store
from polyim.store.files import LocalFileStore
from polyim.store.sqlite import SqliteStore

#: (url, data_dir) → a store not yet opened.
Opener = Callable[[str, Path], Store]

DEFAULT_SCHEME = "sqlite"


def _sqlite(url: str, data_dir: Path) -> Store:
    """``sqlite:///PATH`` (a relative PATH is from the working directory); empty = data_dir/polyim.db."""
    if not url:
        return SqliteStore(str(data_dir / "polyim.db"))
    path = url.removeprefix("sqlite:///")
    if path == url or not path:
        raise ConfigError(f"[storage] url {url!r}: a SQLite url is sqlite:///PATH")
    return SqliteStore(path)


def _postgresql(url: str, data_dir: Path) -> Store:
    """``postgresql://user:password@host:port/database`` (libpq's URL form, given to asyncpg as it is).
    The driver is loaded here, by a node on PostgreSQL only."""
    from polyim.store.postgres import PostgresStore

    return PostgresStore(url)


BACKENDS: dict[str, Opener] = {"sqlite": _sqlite, "postgresql": _postgresql, "postgres": _postgresql}


def make_store(url: str, data_dir: str | Path) -> Store:
    """The store ``url`` names (empty: SQLite under ``data_dir``). An unknown scheme is a
    :class:`ConfigError` here, at start-up, rather than a failure at the first write."""
    scheme = url.partition("://")[0] if url else DEFAULT_SCHEME
    opener = BACKENDS.get(scheme)
    if opener is None:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise ConfigError(f"[storage] url {url!r}: unknown scheme {scheme!r} (this build has {known})")
    return opener(url, Path(data_dir))


def make_file_store(
    data_dir: str | Path, max_file_bytes: int, url: str = "", directory: str = ""
) -> FileStore:
    """Offline files (``[files]``): under ``directory`` when one is set (on a cluster: a directory every
    node mounts); else in the database when ``url`` (``[storage] url``) is PostgreSQL's, where every node
    of a cluster finds them; else under ``data_dir/files``."""
    if directory:
        return LocalFileStore(Path(directory), max_file_bytes)
    if url.partition("://")[0] in ("postgresql", "postgres"):
        from polyim.store.pgfiles import PgFileStore

        return PgFileStore(url, max_file_bytes)
    return LocalFileStore(Path(data_dir) / "files", max_file_bytes)
