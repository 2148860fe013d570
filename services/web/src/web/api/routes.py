"""The aiohttp application: routes, middlewares and headers of the gateway (docs/web.md)."""

from __future__ import annotations

from aiohttp import web

from web.api import files, http, static, streams
from web.api.context import GATEWAY_KEY, Gateway
from web.api.sessions import SESSIONS_KEY, SessionKeeper

# Paths that are not the app's own routes: never answered with index.html.
APP_ROUTE = r"{tail:(?!api(?:/|$)|healthz$|readyz$).*}"


def build_app(gateway: Gateway) -> web.Application:
    app = web.Application(middlewares=[http.edge_middleware], client_max_size=gateway.settings.max_body_bytes)
    app[GATEWAY_KEY] = gateway
    app[SESSIONS_KEY] = SessionKeeper(gateway)
    app.on_response_prepare.append(http.security_headers)
    app.router.add_get("/healthz", http.healthz)
    app.router.add_get("/readyz", http.readyz)
    app.router.add_get("/api/session", http.session_probe)
    app.router.add_post("/api/session/sign-out", http.sign_out)
    app.router.add_post("/api/upload", files.upload)
    app.router.add_get("/api/files/{file_id}", files.download)
    app.router.add_get("/api/ws/{service}/{method}", streams.stream)
    app.router.add_post("/api/{service}/{method}", http.unary)
    app.router.add_get("/" + APP_ROUTE, static.app_files)
    return app
