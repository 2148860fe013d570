"""The web gateway: the browser-facing edge of Parta (see docs/web.md)."""
