"""Throw-away PostgreSQL and Redis servers: the real engines, started from the installed binaries on a
free port in a temporary directory and removed at the end. The tests of the scaled mode use them
(``tests/engines.py``), and so does ``polyim bench --nodes`` (:mod:`polyim.bench.nodes`). As root,
PostgreSQL runs as the ``postgres`` user, since it refuses to run as root.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_databases = itertools.count(1)


class EngineMissing(Exception):
    """The engine's binaries are not installed (``scripts/test`` installs the Debian packages)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not installed (the Debian packages postgresql and redis-server)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop."""

    async def main() -> T:
        return await make()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PostgresServer:
    """One postgres on 127.0.0.1:port; :meth:`database` makes a fresh database and returns its URL."""

    def __init__(self, *, fsync: bool = False) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            raise EngineMissing("PostgreSQL (initdb, postgres)")
        self.bindir = bindir
        self.fsync = fsync
        self.dir = tempfile.mkdtemp(prefix="polyim-pg-")
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._as = self.user if os.geteuid() == 0 else None
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                f"{bindir}/initdb",
                "-D",
                f"{self.dir}/data",
                "-U",
                self.user,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            user=self._as,
            cwd=self.dir,  # the postgres user may not be allowed into the checkout
        )
        self.start()

    def start(self) -> None:
        # fsync off (the tests): a test machine's speed; the tests stop it cleanly, never kill -9 it
        self.proc = subprocess.Popen(
            [
                f"{self.bindir}/postgres",
                "-D",
                f"{self.dir}/data",
                "-p",
                str(self.port),
                "-k",
                self.dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"fsync={'on' if self.fsync else 'off'}",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(f"{self.dir}/log", "ab"),  # noqa: SIM115 - the server keeps it
            user=self._as,
            cwd=self.dir,
        )
        _wait_port(self.port, self.proc, "postgres")
        deadline = time.monotonic() + 20
        while True:  # listening is not yet accepting connections during recovery
            try:
                run_sync(lambda: self._fetchval("postgres", "SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)  # fast shutdown: clients are cut, committed data kept

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        name = f"t{os.getpid()}_{next(_databases)}"
        run_sync(lambda: self._fetchval("postgres", f"CREATE DATABASE {name}"))
        return self.url(name)

    async def _fetchval(self, database: str, sql: str, *args: Any) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.url(database))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EngineMissing("Redis (redis-server)")
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="polyim-redis-")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _postgres_bindir() -> str | None:
    found = shutil.which("postgres") or shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return dirs[-1] if dirs else None
