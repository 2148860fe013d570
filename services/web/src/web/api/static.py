"""The web app's files: hashed assets cached for a year, everything else revalidated; app routes
(/, /join/<token>, /chats/…) answer with index.html; no build yet → a plain page saying so."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.api.context import gateway_of

IMMUTABLE = "public, max-age=31536000, immutable"
# Vite puts content-hashed files under assets/; they never change under the same name.
HASHED_DIR = "assets"
NOT_BUILT = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Parta</title>'
    "<p>The Parta web app is not built yet: its files are missing from the gateway's static directory "
    "(WEB_STATIC_DIR, by default services/web/app/dist).</p></html>"
)


async def app_files(request: web.Request) -> web.StreamResponse:
    root = Path(gateway_of(request).settings.static_dir).resolve()
    index = root / "index.html"
    if not index.is_file():
        return web.Response(text=NOT_BUILT, content_type="text/html", status=503, headers={"Cache-Control": "no-store"})
    tail = request.match_info.get("tail", "")
    target = (root / tail).resolve() if tail else index
    if target != root and root in target.parents and target.is_file():
        cache = IMMUTABLE if target.relative_to(root).parts[0] == HASHED_DIR else "no-cache"
        return web.FileResponse(target, headers={"Cache-Control": cache})
    last = tail.rsplit("/", 1)[-1]
    if "." in last:  # a file the build does not have: not an app route
        raise web.HTTPNotFound(text="not found")
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})
