"""Key source adapter: fetches identity's published signing keys over gRPC."""

from __future__ import annotations

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from parta.identity.v1 import keys_pb2, keys_pb2_grpc

from parta_common.auth import PublicKey


class GrpcSigningKeySource:
    def __init__(self, address: str, *, timeout: float = 3.0):
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = keys_pb2_grpc.SigningKeyServiceStub(self._channel)
        self._timeout = timeout

    async def fetch(self) -> list[PublicKey]:
        response = await self._stub.ListSigningKeys(keys_pb2.ListSigningKeysRequest(), timeout=self._timeout)
        return [
            PublicKey(
                key_id=key.key_id,
                key=Ed25519PublicKey.from_public_bytes(key.public_key),
                retire_after=key.retire_after,
            )
            for key in response.keys
            if key.algorithm == "EdDSA" and len(key.public_key) == 32
        ]

    async def close(self) -> None:
        await self._channel.close()
