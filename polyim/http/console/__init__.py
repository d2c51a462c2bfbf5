"""The web console at ``/console/`` (issue 23): a page for operators over the admin API.

``pages.py`` serves the page and its login, ``auth.py`` keeps the logins (a cookie session with a CSRF
token, admitted by :func:`polyim.http.common.is_admin` beside the admin token), ``api.py`` adds the
snapshot the live view polls; ``static/`` holds the page, its script and its style.
"""

from __future__ import annotations

from aiohttp import web

from polyim.core.app import Core
from polyim.http.common import COOKIE_AUTH_KEY
from polyim.http.console import api, pages
from polyim.http.console.auth import ConsoleSessions
from polyim.http.metrics import ConnectionCounts


def install(app: web.Application, core: Core, connections: ConnectionCounts) -> None:
    """Mount the console on ``app`` and start sampling the rates it charts (needs a running loop)."""
    logins = ConsoleSessions()
    app[COOKIE_AUTH_KEY] = logins
    app[pages.SESSIONS_KEY] = logins
    rates = api.Rates(api.totals(core))
    rates.sample()
    core.nodes.every(api.SAMPLE_S, rates.sample)
    app[api.RATES_KEY] = rates
    app[api.CONNECTIONS_KEY] = connections
    app.router.add_routes([*pages.routes(), *api.routes()])
