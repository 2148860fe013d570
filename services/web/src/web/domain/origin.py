"""CSRF: a state-changing request must say it comes from our own page (docs/web.md, Sessions).

Two checks, both required. The custom header `X-Parta-CSRF: 1` cannot be set by a cross-site form
or a no-CORS fetch; the gateway answers no CORS preflight, so a cross-site script cannot send it
either. And the browser's own word on where the request comes from — `Origin` and, when present,
`Sec-Fetch-Site` — must name this site. A request carrying neither is refused: every browser we
serve sends `Origin` on POST and on the WebSocket handshake.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

CSRF_HEADER = "X-Parta-CSRF"


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts.scheme and parts.netloc else ""


def csrf_refusal(
    headers: Mapping[str, str], *, host: str, allowed_origins: tuple[str, ...], require_header: bool = True
) -> str | None:
    """None when the request may go on, else the reason it may not (for the 403 body).

    `allowed_origins` ("https://parta.example.org") when configured, else the origin's host:port
    must equal the request's Host.
    """
    if require_header and headers.get(CSRF_HEADER, "").strip() != "1":
        return "CSRF_HEADER_MISSING"
    site = headers.get("Sec-Fetch-Site", "").strip().lower()
    if site and site != "same-origin":
        return "CROSS_SITE_REQUEST"
    origin = headers.get("Origin", "").strip()
    if not origin:
        return None if site == "same-origin" else "ORIGIN_MISSING"
    normalised = origin_of(origin)
    if not normalised:  # "null" (sandboxed frames, file://) or garbage
        return "CROSS_SITE_REQUEST"
    if allowed_origins:
        return None if normalised in allowed_origins else "CROSS_SITE_REQUEST"
    return None if urlsplit(normalised).netloc == host.strip().lower() else "CROSS_SITE_REQUEST"
