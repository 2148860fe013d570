"""HTTP and WebSocket handlers (aiohttp)."""
