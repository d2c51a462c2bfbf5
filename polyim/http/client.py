"""A client of the admin API for the command line (``polyim group …``, ``room``, ``push``, ``session`` …).

Groups and rooms live in the running server (rooms only in its memory; groups behind its caches, with
members to notify), so these commands ask the server rather than edit the database.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from polyim.config import Settings, parse_hostport


class AdminError(Exception):
    """The server refused (its message), or could not be reached."""


def server_url(settings: Settings) -> str:
    host, port = parse_hostport(settings.http.listen)
    if port == 0:
        raise AdminError("[http] listen has port 0: pass --server URL")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def admin_token(settings: Settings) -> str:
    """``[http] admin_token``, else the one the server made at first start (``data_dir/admin_token``)."""
    if settings.http.admin_token:
        return settings.http.admin_token
    path = Path(settings.server.data_dir) / "admin_token"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise AdminError(
            f"no admin token: set [http] admin_token or start the server once ({path})"
        ) from None


class AdminClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raise AdminError(_message(err)) from None
        except OSError as exc:
            raise AdminError(
                f"cannot reach the server at {self.url} ({exc}); is polyim serve running?"
            ) from None


def _message(err: urllib.error.HTTPError) -> str:
    """The refusal's text: ``message`` in the admin API's errors, ``errmsg`` in the push API's."""
    try:
        body = json.loads(err.read())
        return str(body.get("message") or body["errmsg"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {err.code}"
