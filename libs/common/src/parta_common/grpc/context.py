"""Per-call context: who is calling, and the ids that tie logs of one request together."""

from __future__ import annotations

from contextvars import ContextVar

from parta_common.auth import Principal
from parta_common.errors import Unauthenticated
from parta_common.grpc.forwarded import peer_host

current_principal: ContextVar[Principal | None] = ContextVar("current_principal", default=None)
current_correlation_id: ContextVar[str] = ContextVar("current_correlation_id", default="")
current_peer: ContextVar[str] = ContextVar("current_peer", default="")
# The real client's address: the TCP peer, or the forwarded address when the peer is a trusted
# proxy (parta_common.grpc.forwarded); the edge sets it per call.
current_client_address: ContextVar[str] = ContextVar("current_client_address", default="")


def require_principal() -> Principal:
    principal = current_principal.get()
    if principal is None:
        raise Unauthenticated("authentication required", reason="UNAUTHENTICATED")
    return principal


def correlation_id() -> str:
    return current_correlation_id.get()


def client_address() -> str:
    """The caller's address without the port ("ipv4:127.0.0.1:5000" → "127.0.0.1"); behind a
    trusted proxy, the client's address that proxy forwarded."""
    return current_client_address.get() or peer_host(current_peer.get())
