"""The setup the service benchmarks share: tokens minted in-process and verified through a tiny
SigningKeyService (the stand-in for identity), a `Stack` of service processes on loopback with its own
databases and topic prefix, and scratch databases dropped at the end. Used by bench_chat, bench_web and
bench_school; what each measures stays in its own file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from parta.identity.v1 import keys_pb2, keys_pb2_grpc
from parta_common.mongo import create_mongo_client
from parta_common.testing.fakes import TokenMint

from tests.e2e.harness import Stack


class SigningKeys(keys_pb2_grpc.SigningKeyServiceServicer):
    """identity's key listing for the mint's one key: services verify the bench's tokens against it."""

    def __init__(self, mint: TokenMint):
        raw = mint.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._reply = keys_pb2.ListSigningKeysResponse(
            keys=[keys_pb2.SigningKey(key_id=mint.key_id, algorithm="EdDSA", public_key=raw)]
        )

    async def ListSigningKeys(self, request, context):  # type: ignore[no-untyped-def]
        return self._reply


def bearer(mint: TokenMint, user: str) -> list[tuple[str, str]]:
    """Call metadata with an access token of `user` (an hour long)."""
    return [("authorization", f"Bearer {mint.token(user, session_id='bench', ttl=3600)}")]


@dataclass
class BenchStack:
    mint: TokenMint
    key_port: int  # the in-process SigningKeyService (and any servicer the bench added beside it)
    stack: Stack
    run_id: str
    env: dict[str, str]
    _client: Any = None
    _scratch: list[str] = field(default_factory=list)
    _closers: list[Callable[[], object]] = field(default_factory=list)

    def database(self, service: str) -> Any:
        """The database of `service` in this run (to seed it straight); dropped at the end."""
        if self._client is None:
            self._client = create_mongo_client(self.env["PARTA_TEST_MONGODB_URI"], app_name="bench")
        name = f"{service}_{self.run_id}"
        if name not in self._scratch:
            self._scratch.append(name)
        return self._client[name]

    def on_close(self, close: Callable[[], object]) -> None:
        """Stop something the bench started (a gateway) before the stack's services stop."""
        self._closers.append(close)


@asynccontextmanager
async def bench_stack(
    env: dict[str, str], prefix: str, servicers: Iterable[Callable[[grpc.aio.Server], None]] = ()
) -> AsyncIterator[BenchStack]:
    """Start the key server (with `servicers` added to it), yield the run's stack; on the way out stop
    what `on_close` named, every service process, the key server, and drop the scratch databases."""
    mint = TokenMint()
    key_server = grpc.aio.server()
    keys_pb2_grpc.add_SigningKeyServiceServicer_to_server(SigningKeys(mint), key_server)
    for add in servicers:
        add(key_server)
    key_port = key_server.add_insecure_port("127.0.0.1:0")
    await key_server.start()
    run_id = prefix + uuid.uuid4().hex[:8]
    bench = BenchStack(
        mint, key_port, Stack(env["PARTA_TEST_MONGODB_URI"], env["PARTA_KAFKA_BOOTSTRAP"], run_id), run_id, env
    )
    try:
        yield bench
    finally:
        for close in reversed(bench._closers):
            close()
        bench.stack.stop_all()
        await key_server.stop(0)
        if bench._client is not None:
            for name in bench._scratch:
                await bench._client.drop_database(name)
            await bench._client.close()
