"""What polyim's HTTP handlers share: the app keys, the admin-token check, error replies and bounded
body reads. Its own module so the route modules (``http/admin.py``, ``http/push.py``, the protocols'
``http.py``) and ``http/server.py``, which mounts them, all import it and not each other."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from polyim.core.app import Core

CORE_KEY = web.AppKey("core", Core)
ADMIN_TOKEN_KEY = web.AppKey("admin_token", str)
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CookieAuth(Protocol):
    """A browser's login (the web console's cookie session): does it admit this request?"""

    def admits(self, request: web.Request) -> bool: ...


COOKIE_AUTH_KEY = web.AppKey("cookie_auth", CookieAuth)


def has_bearer(request: web.Request, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time so timing does not leak it."""
    header = request.headers.get("Authorization", "")
    return header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())


def is_admin(request: web.Request) -> bool:
    """The one check of every admin call: the admin token as a bearer token, or a console login (its
    cookie, its CSRF header and a same-origin request; see ``http/console/auth.py``)."""
    if has_bearer(request, request.app[ADMIN_TOKEN_KEY]):
        return True
    cookie = request.app.get(COOKIE_AUTH_KEY)
    return cookie is not None and cookie.admits(request)


def api_error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)


def admin_only(fn: Handler) -> Handler:
    """The handler, behind the admin token (401 without it)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_admin(request):
            return api_error(401, "unauthorized")
        return await fn(request)

    return guarded


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes when it is longer. ``StreamReader.read(n)`` returns
    what has arrived so far, up to n: a body that came in several segments was cut short by a single
    read, and a valid request was refused as "not JSON"."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def json_body(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when it is missing, too large or not an object."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    raw = await read_at_most(request, MAX_BODY)
    if len(raw) > MAX_BODY:
        return None
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
