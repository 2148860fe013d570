"""SigningKeyService: the public halves of the signing keys (public RPC)."""

from __future__ import annotations

import grpc
from parta.identity.v1 import keys_pb2, keys_pb2_grpc

from identity.app.ports import PublishedKeys


class SigningKeyServicer(keys_pb2_grpc.SigningKeyServiceServicer):
    def __init__(self, keys: PublishedKeys):
        self._keys = keys

    async def ListSigningKeys(
        self, request: keys_pb2.ListSigningKeysRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.ListSigningKeysResponse:
        return keys_pb2.ListSigningKeysResponse(
            keys=[
                keys_pb2.SigningKey(
                    key_id=material.key_id,
                    algorithm="EdDSA",
                    public_key=raw,
                    # Tokens issued after this instant are refused (the kit's verifier rule).
                    retire_after=int(material.retired_at.timestamp()) if material.retired_at else 0,
                )
                for material, raw in self._keys.published()
            ]
        )
