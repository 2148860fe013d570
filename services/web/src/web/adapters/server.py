"""aiohttp's HTTP server, with two things changed for an edge service:

- a request aiohttp's own parser refuses (Content-Length -1, Content-Length with Transfer-Encoding,
  bytes after the body, a bad request line) gets the gateway's JSON error body and security headers,
  never aiohttp's text/plain page that echoes the offending bytes;
- aiohttp's loggers (aiohttp.server, aiohttp.access, aiohttp.web, …) log one structlog line each,
  through the kit's scrubbing, with the message truncated and no traceback (a traceback of a parser
  error carries the request's bytes).

An ingress sits in front in production (docs/web.md): it normalises HTTP before it gets here.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from web.domain.errors import gateway_error

log = structlog.get_logger("web.http")
MAX_LOGGED_CHARS = 120
AIOHTTP_LOGGERS = ("aiohttp", "aiohttp.server", "aiohttp.access", "aiohttp.web", "aiohttp.internal")
# Headers every answer carries (http.security_headers adds the per-request ones on routed answers).
STATIC_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def truncated(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first[:MAX_LOGGED_CHARS] + ("…" if len(text) > len(first[:MAX_LOGGED_CHARS]) else "")


class _GatewayRequestHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        log.info("http_refused", status=status, error=type(exc).__name__ if exc else None)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        if status == 400:
            error = gateway_error("INVALID_ARGUMENT", "BAD_HTTP_REQUEST", "malformed HTTP request", status=400)
        elif status == 504:
            error = gateway_error("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED", "the request took too long", status=504)
        else:
            error = gateway_error("INTERNAL", "INTERNAL", "internal error", status=status)
        response = web.json_response(error.body(), status=status, headers=STATIC_SECURITY_HEADERS)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        message = str(args[0] % args[1:]) if len(args) > 1 else str(args[0]) if args else ""
        log.warning("http_error", message=truncated(message), error=type(exc).__name__ if exc else None)


class GatewayServer(Server):
    def __call__(self) -> RequestHandler:
        return _GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """web.AppRunner serving through GatewayServer."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = GatewayServer  # same fields; only __call__ (the handler it makes) differs
        return server


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not take the logger down
            message = str(record.msg)
        structlog.get_logger(record.name).log(
            record.levelno, "library_log", logger=record.name, message=truncated(message), error=error
        )


def route_aiohttp_logs() -> None:
    """aiohttp's loggers: one truncated structlog line each, no tracebacks (call after configure_logging)."""
    handler = _ToStructlog()
    for name in AIOHTTP_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False


__all__ = ["GatewayRunner", "route_aiohttp_logs"]
