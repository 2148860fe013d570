"""Per-call context: who is calling, and the ids that tie logs of one request together."""

from __future__ import annotations

from contextvars import ContextVar

from parta_common.auth import Principal
from parta_common.errors import Unauthenticated

current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)
current_correlation_id: ContextVar[str] = ContextVar("current_correlation_id", default="")
current_peer: ContextVar[str] = ContextVar("current_peer", default="")


def require_principal() -> Principal:
    principal = current_principal.get()
    if principal is None:
        raise Unauthenticated("authentication required", reason="UNAUTHENTICATED")
    return principal


def correlation_id() -> str:
    return current_correlation_id.get()


def client_address() -> str:
    """The caller's address without the port, e.g. "ipv4:127.0.0.1" → "127.0.0.1"."""
    peer = current_peer.get()
    host = peer.split(":", 1)[1] if ":" in peer else peer
    if host.startswith("["):
        return host[1 : host.rfind("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
