"""Versioned schema migrations: ``migrations/NNNN_name.sql`` files applied in order, once each."""

from __future__ import annotations

import sqlite3
from importlib import resources


def available(dialect: str = "") -> list[tuple[int, str]]:
    """(version, SQL) of every migration, in order: SQLite's, or those of ``dialect`` (a subfolder)."""
    files = resources.files("polyim.store") / "migrations"
    if dialect:
        files = files / dialect
    out = []
    for entry in files.iterdir():
        if entry.name.endswith(".sql"):
            out.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(out)


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration newer than the database's ``user_version``; return the versions applied."""
    applied = []
    for version, sql in available():
        if version <= current_version(conn):
            continue
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version={version};\nCOMMIT;")
        applied.append(version)
    return applied
