"""The web console's login: the admin token typed once, then a cookie session.

The session id is a server-side random (``secrets``), never the token, so the token is in no URL, no
cookie and no browser storage. The cookie is ``HttpOnly`` (scripts cannot read it) and
``SameSite=Strict``; it expires with its session (:data:`LIFETIME`) or at logout. Because SameSite
treats another port of the same host as the same site, the cookie alone admits nothing: a call on it
must also carry the session's CSRF token in :data:`CSRF_HEADER` (a header another origin cannot set
without a CORS preflight, which polyim never answers) and come from the console's own origin (``Origin``,
else ``Referer``). So a form another page posts at the console fails, as does a script of another
origin. Logins live in this node's memory: a restart or another node asks for the token again.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "polyim_console"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME = 8 * 3600  # seconds a login lasts; the console asks for the token again after it
MAX_LOGINS = 64  # past it the oldest login is forgotten: a flood of logins cannot grow memory
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_API = "/api/v1/"


@dataclass(frozen=True, slots=True)
class Login:
    csrf: str
    expires: float  # on the sessions' clock


def same_origin(request: web.Request, *, required: bool) -> bool:
    """The page that sent the request is the console's own origin: ``Origin`` (or, without one, the
    ``Referer``) names this host and port. ``required``: a request that names no origin is refused."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return not required
    return urlsplit(source).netloc.lower() == request.host.lower()


class ConsoleSessions:
    """The logins of this node's console, by their random id (the cookie's value)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logins: dict[str, Login] = {}

    def open(self) -> tuple[str, Login]:
        """A new login: its id for the cookie and its CSRF token for the page."""
        now = self._clock()
        self._logins = {k: v for k, v in self._logins.items() if v.expires > now}
        while len(self._logins) >= MAX_LOGINS:
            del self._logins[next(iter(self._logins))]
        sid = secrets.token_urlsafe(32)
        login = self._logins[sid] = Login(secrets.token_urlsafe(32), now + LIFETIME)
        return sid, login

    def find(self, request: web.Request) -> Login | None:
        """The live login the request's cookie names, if any."""
        sid = request.cookies.get(COOKIE, "")
        login = self._logins.get(sid)
        if login is None:
            return None
        if login.expires <= self._clock():
            del self._logins[sid]
            return None
        return login

    def close(self, request: web.Request) -> None:
        self._logins.pop(request.cookies.get(COOKIE, ""), None)

    def admits(self, request: web.Request) -> bool:
        """An admin API call made by the console (the protocols' own endpoints take the token only)."""
        return request.path.startswith(_API) and self.checked(request) is not None

    def checked(self, request: web.Request) -> Login | None:
        """The request's login when it may act on it: a live login, its CSRF token, the console's
        origin (named by every call that changes something)."""
        login = self.find(request)
        if login is None:
            return None
        token = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(token.encode(), login.csrf.encode()):
            return None
        return login if same_origin(request, required=request.method not in _SAFE) else None
