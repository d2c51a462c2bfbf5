"""polyim's single HTTP server: health, metrics, the admin API and the protocols' own endpoints."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from polyim.core.app import Core
from polyim.http.metrics import ConnectionCounts, metrics_route

log = logging.getLogger(__name__)

CORE_KEY = web.AppKey("core", Core)
ADMIN_TOKEN_KEY = web.AppKey("admin_token", str)
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_admin(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    token = request.app[ADMIN_TOKEN_KEY]
    return header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())


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


async def healthz(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    return web.json_response(
        {"status": "ok", "sessions": core.sessions.count(), "users_online": core.sessions.users()}
    )


def build_app(
    core: Core, admin_token: str, routes: list[web.RouteDef], connections: ConnectionCounts
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[CORE_KEY] = core
    app[ADMIN_TOKEN_KEY] = admin_token
    app.router.add_get("/healthz", healthz)
    app.router.add_routes([metrics_route(core, connections)])
    from polyim.http.admin import routes as admin_routes
    from polyim.http.push import routes as push_routes

    app.router.add_routes(admin_routes())
    app.router.add_routes(push_routes())
    app.router.add_routes(routes)
    return app
