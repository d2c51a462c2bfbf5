"""Configuration: the TOML file of design.md §2, every key with a default so an empty file works."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")


class ConfigError(Exception):
    pass


@dataclass
class ServerSettings:
    data_dir: str = "./polyim-data"
    node_id: int = 1
    advertise: str = ""
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object per line (``polyim serve --log-format``)
    # bind every listener with SO_REUSEPORT (Linux): several node processes on one machine share the
    # ports, the kernel spreads the connections (``polyim serve --nodes N`` sets it for its nodes)
    reuse_port: bool = False


@dataclass
class StorageSettings:
    """``[storage]``: ``url`` picks the backend by its scheme (``polyim.store.factory.make_store``);
    empty = SQLite in ``data_dir/polyim.db``, ``sqlite:///PATH`` = SQLite at PATH."""

    url: str = ""


@dataclass
class FileSettings:
    """``[files]``: offline files (TeamTalk, XMMEP). ``dir`` empty: under ``data_dir/files`` with SQLite,
    in the database (large objects) with PostgreSQL, where every node of a cluster finds them; set: in
    that directory (on a cluster, one every node mounts, docs/scaling.md). ``max_file_bytes`` is the
    largest file kept; a bigger one is refused while it streams in and nothing of it is kept."""

    max_file_bytes: int = 512 * 1024 * 1024
    dir: str = ""


@dataclass
class AccountSettings:
    allow_register: bool = True
    require_activation: bool = False
    max_failed_logins: int = 5
    failed_login_window: int = 300
    lockout: int = 60
    token_ttl: int = 7 * 24 * 3600
    max_message_bytes: int = 65536
    group_member_limit: int = 1000


@dataclass
class ClusterSettings:
    redis_url: str = ""


@dataclass
class HttpSettings:
    """``[http]``. The deadlines and caps bound what a client can hold on the HTTP listener (issue 16):

    * ``header_timeout`` — a request's line and headers must arrive within this many seconds of its
      first byte (a header trickle is cut);
    * ``body_timeout`` — a request's body must be complete this many seconds after its handler started
      (a body announced longer than sent, or a chunked body without its last chunk, is cut);
    * ``idle_timeout`` — a connection with no request in progress is closed after this many seconds,
      before its first request and between keep-alive requests;
    * ``max_pending_connections`` / ``max_pending_per_address`` — open HTTP connections allowed on the
      listener, in total and from one source address; past either, a new connection is closed at once
      (with one rate-limited log line). ``polyim bench`` raises them in the config it writes; a
      deployment behind a reverse proxy that connects from one address should raise the per-address one.
    * ``metrics_token`` — empty (default): ``/metrics`` is open, like any scrape target; set, it asks for
      ``Authorization: Bearer <metrics_token>`` (401 otherwise).
    """

    enabled: bool = True
    listen: str = "127.0.0.1:8000"
    admin_token: str = ""
    header_timeout: float = 10
    body_timeout: float = 30
    idle_timeout: float = 30
    max_pending_connections: int = 1024
    max_pending_per_address: int = 128
    metrics_token: str = ""


@dataclass
class ListenerLimits:
    """Keys every protocol section with listeners has (issue 16, issue 17):

    * ``max_pending_connections`` / ``max_pending_per_address`` — connections that have not logged in
      yet, per listener and from one source address; past either, a new connection is closed at once
      (one rate-limited log line). Logged-in sessions hold no slot, so they keep working when the cap is
      reached; ``login_timeout`` closes a connection that does not log in. A login storm of more
      clients than this from one address (a large NAT, ``polyim bench``) is refused in part and
      retries; ``polyim bench`` raises both in the config it writes.
    * ``max_write_buffer`` — bytes queued for a client beyond which it is cut as a slow consumer,
      unless what feeds it was paused (a relay pauses its source at the write high-water mark).
    """

    max_pending_connections: int = 4096
    max_pending_per_address: int = 256
    max_write_buffer: int = 4 * 1024 * 1024


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    files: FileSettings = field(default_factory=FileSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    # The sections of registered protocols, by name, each the dataclass its package declares: this module
    # learns them from ``load``'s caller (``protocols/registry.sections()``), so it names no protocol.
    protocols: dict[str, Any] = field(default_factory=dict)
    # Sections of protocols this version does not build yet are kept, untouched, for forward compatibility.
    other: dict[str, Any] = field(default_factory=dict)

    def protocol(self, name: str, kind: type[T]) -> T:
        """The ``[name]`` section as its protocol's own dataclass (every default when the file has none):
        typed access for the package that declared ``kind``."""
        section = self.protocols.get(name)
        if section is None:
            section = self.protocols[name] = kind()
        if not isinstance(section, kind):
            raise TypeError(f"[{name}] holds {type(section).__name__}, not {kind.__name__}")
        return section


_BUILT_IN = frozenset(f.name for f in fields(Settings)) - {"protocols", "other"}


def _fill(section: Any, values: dict[str, Any], name: str) -> None:
    # The declared type, not the default's: ``idle_timeout: float = 360`` must take ``1.5``.
    known = get_type_hints(type(section))
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key [{name}] {key}")
        expected = known[key]
        accepted = (int, float) if expected is float else expected
        if isinstance(value, bool) != (expected is bool) or not isinstance(value, accepted):
            raise ConfigError(f"[{name}] {key} must be {expected.__name__}")
        setattr(section, key, float(value) if expected is float else value)


def load(path: str | None, protocols: Mapping[str, type[Any]]) -> Settings:
    """The settings in the TOML file at ``path`` (every default when None). ``protocols`` maps each
    registered protocol's section name to its settings dataclass, ``protocols/registry.sections()``."""
    settings = Settings()
    if path is None:
        return settings
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table")
        if name in protocols:
            _fill(settings.protocol(name, protocols[name]), values, name)
        elif name in _BUILT_IN:
            _fill(getattr(settings, name), values, name)
        else:
            settings.other[name] = values
    return settings


def parse_hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"bad listen address {value!r}, want host:port")
    return host.strip("[]") or "127.0.0.1", int(port)
