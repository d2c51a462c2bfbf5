"""Shared fixtures: a real ``polyim serve`` process on free ports, and accounts made through its admin API."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

# throw-away PostgreSQL and Redis for the scaled mode's tests; headless Chromium for the tests of the web pages
pytest_plugins = ["tests.engines", "tests.browser"]

_names = itertools.count(1)


@dataclass
class Server:
    """A running server process. ``ports`` maps ``"<protocol> <kind>"`` to the bound port."""

    proc: subprocess.Popen[str]
    data_dir: Path
    config: Path
    ports: dict[str, int] = field(default_factory=dict)
    admin_token: str = ""
    log: Path | None = None
    #: What its ``build`` startup line said: ``compiled (mypyc)`` or ``pure-python``.
    build: str = ""

    @property
    def omtp(self) -> int:
        return self.ports["omtp tcp"]

    @property
    def beehive_tcp(self) -> int:
        return self.ports["beehive tcp"]

    @property
    def beehive_ws(self) -> int:
        return self.ports["beehive ws"]

    @property
    def imlc(self) -> int:
        return self.ports["imlc tcp"]

    @property
    def xmmep_tcp(self) -> int:
        return self.ports["xmmep tcp"]

    @property
    def xmmep_udp(self) -> int:
        return self.ports["xmmep udp"]

    @property
    def teamtalk_login(self) -> int:
        return self.ports["teamtalk login"]

    @property
    def teamtalk_msg(self) -> int:
        return self.ports["teamtalk msg"]

    @property
    def teamtalk_file(self) -> int:
        return self.ports["teamtalk file"]

    @property
    def http(self) -> int:
        return self.ports["http tcp"]

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.admin_token if token is None else token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def add_user(self, prefix: str = "u", password: str = "pw", **extra: Any) -> tuple[int, str]:
        """Create an account with a unique name; returns (uid, username)."""
        name = f"{prefix}{next(_names)}_{os.getpid()}"
        status, body = self.api("POST", "/api/v1/users", {"username": name, "password": password, **extra})
        assert status == 201, body
        return int(body["uid"]), name

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Closable(Protocol):
    @property
    def closed(self) -> bool: ...

    async def wait_closed(self, timeout: float = 5.0) -> bool: ...


async def ping_until_closed(
    ping: Callable[[], Awaitable[Any]], *others: Closable, seconds: float = 4
) -> None:
    """Keep one connection busy (``ping`` every 0.3 s) while ``others`` are left to the server's
    timeouts, until they are closed or ``seconds`` have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def busy() -> None:
        while not all(c.closed for c in others) and loop.time() < deadline:
            await ping()
            await asyncio.sleep(0.3)

    await asyncio.gather(busy(), *(c.wait_closed(seconds) for c in others))


def write_config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "polyim.toml"
    cfg.write_text(
        f"""
[server]
data_dir = "{tmp / "data"}"
[http]
listen = "127.0.0.1:0"
admin_token = "test-admin-token"
[teamtalk]
login = "127.0.0.1:0"
msg = "127.0.0.1:0"
file = "127.0.0.1:0"
[imlc]
listen = "127.0.0.1:0"
[xmmep]
tcp = "127.0.0.1:0"
udp = "127.0.0.1:0"
[omtp]
listen = "127.0.0.1:0"
[beehive]
tcp = "127.0.0.1:0"
ws = "127.0.0.1:0"
{extra}
""",
        encoding="utf-8",
    )
    return cfg


def start_server(
    tmp: Path,
    extra: str = "",
    config: Path | None = None,
    preexec: Callable[[], None] | None = None,
    args: tuple[str, ...] = (),
) -> Server:
    """``preexec`` runs in the child before ``polyim serve`` starts (a resource limit, say); ``args``
    are more ``polyim serve`` options."""
    cfg = config or write_config(tmp, extra)
    log = tmp / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyim.cli", "serve", "--config", str(cfg), *args],
        stdout=subprocess.PIPE,
        stderr=log.open("a"),
        text=True,
        preexec_fn=preexec,
    )
    server = Server(proc, tmp / "data", cfg, admin_token="test-admin-token", log=log)
    deadline = time.monotonic() + 20
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited: {log.read_text()}")
        parts = line.split()
        if parts[:1] == ["build"]:
            server.build = line.removeprefix("build").strip()
        if parts[:1] == ["listening"]:
            server.ports[f"{parts[1]} {parts[2]}"] = int(parts[3].rsplit(":", 1)[1])
            if "http tcp" in server.ports:
                return server
    raise RuntimeError("server did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("polyim"))
    yield srv
    srv.stop()
