"""polyim's single HTTP server: health, metrics, the admin API, the web console and the protocols' own
endpoints."""

from __future__ import annotations

from aiohttp import web

from polyim.core.app import Core
from polyim.http.admin import routes as admin_routes
from polyim.http.common import ADMIN_TOKEN_KEY, CORE_KEY, MAX_BODY
from polyim.http.console import install as install_console
from polyim.http.metrics import ConnectionCounts, metrics_route
from polyim.http.openapi import routes as openapi_routes
from polyim.http.push import routes as push_routes
from polyim.http.webchat import routes as webchat_routes


async def healthz(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    return web.json_response(
        {"status": "ok", "sessions": core.sessions.count(), "users_online": core.sessions.users()}
    )


def build_app(
    core: Core,
    admin_token: str,
    routes: list[web.RouteDef],
    connections: ConnectionCounts,
    metrics_token: str = "",
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[CORE_KEY] = core
    app[ADMIN_TOKEN_KEY] = admin_token
    app.router.add_get("/healthz", healthz)
    app.router.add_routes([metrics_route(core, connections, metrics_token)])
    app.router.add_routes(admin_routes())
    app.router.add_routes(push_routes())
    app.router.add_routes(openapi_routes())
    install_console(app, core, connections)
    app.router.add_routes(routes)
    app.router.add_routes(webchat_routes())
    return app
