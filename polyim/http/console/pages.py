"""``/console/``: the web console's page, its script and style (files of this package, nothing fetched
from elsewhere), and its login, session and logout calls.

The page is static; everything it shows comes from the admin API under ``/api/v1`` (``http/admin.py``,
``http/push.py``, ``http/console/api.py``), which admits a console login (``http/console/auth.py``) as it
admits the admin token. The page's headers forbid every script, style and connection but its own
origin's (``Content-Security-Policy``) and any framing (clickjacking).
"""

from __future__ import annotations

import hmac
import logging
from importlib import resources

from aiohttp import web

from polyim.http.common import ADMIN_TOKEN_KEY, CORE_KEY, api_error, json_body
from polyim.http.console.auth import COOKIE, LIFETIME, ConsoleSessions, same_origin

log = logging.getLogger(__name__)

SESSIONS_KEY = web.AppKey("console_sessions", ConsoleSessions)

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_FILES = ("index.html", "console.js", "console.css")
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def _file_route(name: str) -> web.RouteDef:
    """``/console/<name>`` (the page itself at ``/console/``), read once from the package."""
    body = resources.files("polyim.http.console").joinpath("static", name).read_bytes()
    content_type = _TYPES[name[name.rindex(".") :]]

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=_HEADERS)

    return web.get("/console/" + ("" if name == "index.html" else name), serve)


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def login(request: web.Request) -> web.Response:
    """``POST /console/login`` {token}: the admin token, from the console's own page; → its CSRF token
    and the session cookie. Wrong tokens are throttled per address like protocol logins."""
    if not same_origin(request, required=True):
        return api_error(403, "a login must come from the console's own page")
    body = await json_body(request)
    token = body.get("token") if body is not None else None
    if not isinstance(token, str):
        return api_error(400, "token required")
    throttle = request.app[CORE_KEY].accounts.throttle
    key = f"console:{request.remote}"
    if await throttle.locked(key):
        return api_error(429, "too many wrong tokens; try again later")
    if not hmac.compare_digest(token.encode(), request.app[ADMIN_TOKEN_KEY].encode()):
        await throttle.fail(key)
        log.warning("console: wrong admin token from %s", request.remote)
        return api_error(401, "wrong admin token")
    await throttle.succeed(key)
    sid, session = request.app[SESSIONS_KEY].open()
    log.info("console: login from %s", request.remote)
    resp = web.json_response({"csrf": session.csrf, "expires_in": LIFETIME})
    resp.set_cookie(
        COOKIE, sid, max_age=LIFETIME, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
    return resp


async def session(request: web.Request) -> web.Response:
    """``GET /console/session`` → the login's CSRF token (a reloaded page has lost it), or 401."""
    found = request.app[SESSIONS_KEY].find(request)
    if found is None or not same_origin(request, required=False):
        return api_error(401, "not logged in")
    return web.json_response({"csrf": found.csrf})


async def logout(request: web.Request) -> web.Response:
    """``POST /console/logout`` (CSRF token required): the login ends here and in the browser."""
    sessions = request.app[SESSIONS_KEY]
    if sessions.checked(request) is None:
        return api_error(401, "not logged in")
    sessions.close(request)
    log.info("console: logout from %s", request.remote)
    resp = web.json_response({"logged_out": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console", _to_console),
        *(_file_route(name) for name in _FILES),
        web.post("/console/login", login),
        web.get("/console/session", session),
        web.post("/console/logout", logout),
    ]
