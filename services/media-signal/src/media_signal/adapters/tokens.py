"""Join grants as HS256 JWTs signed with this service's own secret, and TURN REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import jwt
from parta_common.errors import Unauthenticated

from media_signal.app.ports import IceServer, JoinClaims
from media_signal.domain.rooms import Grants

ISSUER = "parta-media-signal"
AUDIENCE = "parta-media-signal:join"


class HmacJoinTokenCodec:
    """Only media-signal replicas mint and read these, so a shared symmetric key is enough; it is a
    different secret from identity's signing keys, and a grant is useless without an access token
    for the same user (the signalling stream checks both)."""

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("the join token secret must be at least 32 bytes")
        self._secret = secret

    def issue(self, claims: JoinClaims, issued_at: datetime) -> str:
        g = claims.grants
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": claims.user_id,
            "room": claims.room_id,
            "sch": claims.school_id,
            "g": {
                "pub": g.can_publish,
                "sub": g.can_subscribe,
                "data": g.can_publish_data,
                "host": g.is_host,
                "stage": g.stage_allowed,
            },
            "iat": int(issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def verify(self, token: str, now: datetime) -> JoinClaims:
        if not token or len(token) > 4096:
            raise Unauthenticated("join token missing or oversized", reason="JOIN_TOKEN_INVALID")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "room", "sch", "g"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid join token", reason="JOIN_TOKEN_INVALID") from exc
        # Expiry against our clock (tests drive it), with no leeway: grants are short-lived on purpose.
        if int(claims["exp"]) <= int(now.timestamp()):
            raise Unauthenticated("join token expired", reason="JOIN_TOKEN_EXPIRED")
        g = claims["g"] if isinstance(claims["g"], dict) else {}
        return JoinClaims(
            user_id=str(claims["sub"]),
            room_id=str(claims["room"]),
            school_id=str(claims["sch"]),
            grants=Grants(
                bool(g.get("pub")),
                bool(g.get("sub")),
                bool(g.get("data")),
                bool(g.get("host")),
                stage_allowed=bool(g.get("stage", True)),
            ),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )


def turn_rest_credentials(secret: bytes, user_id: str, expires_at: int) -> tuple[str, str]:
    """The "TURN REST API" scheme coturn checks with use-auth-secret: username "<expiry>:<user>",
    password base64(HMAC-SHA1(secret, username))."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class TurnIceServers:
    def __init__(self, turn_uris: list[str], secret: bytes, ttl_seconds: int, stun_uris: list[str] | None = None):
        self._turn = turn_uris
        self._stun = stun_uris or []
        self._secret = secret
        self._ttl = ttl_seconds

    def ice_servers(self, user_id: str, now: datetime) -> list[IceServer]:
        servers = [IceServer(urls=tuple(self._stun))] if self._stun else []
        if self._turn:
            username, password = turn_rest_credentials(self._secret, user_id, int(now.timestamp()) + self._ttl)
            servers.append(IceServer(urls=tuple(self._turn), username=username, credential=password))
        return servers
