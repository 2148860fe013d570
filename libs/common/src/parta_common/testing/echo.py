"""A minimal service built on the kit, for the kit's own tests and the bare-gRPC benchmark ceiling.

python -m parta_common.testing.echo --port 0 --keys-file F   # prints "PORT <n>" when listening
    (--announce-slow: then "SLOW <millis>" as each Slow call starts; only when stdout is read)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from aiokafka.errors import KafkaConnectionError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from opentelemetry.trace import Tracer
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from parta_common import errors
from parta_common.auth import KeyCache, PublicKey, StaticKeySource, TokenVerifier
from parta_common.grpc.context import client_address, current_principal
from parta_common.grpc.edge import EdgeInterceptor
from parta_common.grpc.forwarded import Network
from parta_common.grpc.server import GrpcServiceRunner, ReadinessCheck, ServerSpec, Worker
from parta_common.logging import configure_logging
from parta_common.metrics import ServiceMetrics
from parta_common.revocation import RevocationList
from parta_common.telemetry import tracing_from_env

ECHO_SERVICE = echo_pb2.DESCRIPTOR.services_by_name["EchoService"].full_name
PUBLIC_ECHO = f"/{ECHO_SERVICE}/Echo"


class EchoServicer(echo_pb2_grpc.EchoServiceServicer):
    def __init__(self, on_slow: Callable[[int], None] | None = None):
        # Told when a Slow call has reached the application (its millis): a shutdown test waits for
        # that instead of guessing how long the call takes to arrive.
        self._on_slow = on_slow

    async def Echo(self, request: echo_pb2.EchoRequest, context: grpc.aio.ServicerContext) -> echo_pb2.EchoResponse:
        principal = current_principal.get()
        return echo_pb2.EchoResponse(
            text=request.text, caller=principal.user_id if principal else "", client_address=client_address()
        )

    async def Fail(self, request: echo_pb2.FailRequest, context: grpc.aio.ServicerContext) -> echo_pb2.EchoResponse:
        if request.mode == "invalid":
            v = errors.Violations()
            v.add("text", "must not be empty")
            v.add("mode", "unknown mode")
            v.raise_if_any()
        if request.mode == "not_found":
            raise errors.NotFound("school not found", reason="SCHOOL_NOT_FOUND")
        if request.mode == "exhausted":
            raise errors.ResourceExhausted("slow down", retry_after_seconds=1.5, reason="RATE_LIMITED")
        if request.mode == "store_down":
            raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")
        if request.mode == "store_down_wrapped":
            try:
                raise AutoReconnect("connection reset")
            except AutoReconnect as exc:
                raise RuntimeError("could not save") from exc
        if request.mode == "kafka_down":
            raise KafkaConnectionError("no broker")
        raise RuntimeError("secret internal detail: mongodb://user:hunter2@db")

    async def Slow(self, request: echo_pb2.SlowRequest, context: grpc.aio.ServicerContext) -> echo_pb2.EchoResponse:
        if self._on_slow is not None:
            self._on_slow(request.millis)
        await asyncio.sleep(request.millis / 1000)
        return echo_pb2.EchoResponse(text=f"slept {request.millis}")

    async def Ticks(
        self, request: echo_pb2.TicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[echo_pb2.TicksResponse]:
        tick = 0
        while True:
            yield echo_pb2.TicksResponse(tick=tick)
            tick += 1
            await asyncio.sleep(max(request.millis, 1) / 1000)


def echo_runner(
    *,
    verifier: TokenVerifier | None,
    port: int = 0,
    grace: float = 5.0,
    readiness: list[ReadinessCheck] | None = None,
    with_edge: bool = True,
    metrics: ServiceMetrics | None = None,
    tracer: Tracer | None = None,
    revocations: RevocationList | None = None,
    trusted_proxies: tuple[Network, ...] = (),
    workers: list[Worker] | None = None,
    on_slow: Callable[[int], None] | None = None,
) -> GrpcServiceRunner:
    interceptors = (
        [
            EdgeInterceptor(
                verifier=verifier,
                public_methods=[PUBLIC_ECHO],
                metrics=metrics,
                tracer=tracer,
                revocations=revocations,
                trusted_proxies=trusted_proxies,
            )
        ]
        if with_edge
        else []
    )

    def register(server: grpc.aio.Server) -> None:
        echo_pb2_grpc.add_EchoServiceServicer_to_server(EchoServicer(on_slow), server)

    return GrpcServiceRunner(
        ServerSpec(
            name="echo",
            host="127.0.0.1",
            port=port,
            registrars=[register],
            service_names=[ECHO_SERVICE],
            interceptors=interceptors,
            readiness=readiness or [],
            workers=workers or [],
            grace_seconds=grace,
        )
    )


async def _always_ready() -> bool:
    return True


def _keys_from_file(path: str) -> TokenVerifier:
    data = json.loads(open(path).read())
    key = PublicKey(data["kid"], Ed25519PublicKey.from_public_bytes(base64.b64decode(data["public_key"])))
    return TokenVerifier(KeyCache(StaticKeySource([key])), issuer=data["issuer"], audience=data["audience"])


async def _main(args: argparse.Namespace) -> None:
    configure_logging("echo", "info", stream=sys.stderr)
    verifier = _keys_from_file(args.keys_file) if args.keys_file else None
    readiness: list[Callable[[], Awaitable[bool]]] = [_always_ready]
    # Like every service: tracing is on when the OTEL_* environment says so (never for --bare).
    tracing = None if args.bare else tracing_from_env("echo")
    runner = echo_runner(
        verifier=verifier,
        port=args.port,
        grace=args.grace,
        readiness=readiness,
        with_edge=not args.bare,
        tracer=tracing.tracer if tracing is not None else None,
        on_slow=_announce_slow if args.announce_slow else None,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    port = await runner.start()
    print(f"PORT {port}", flush=True)
    await stop.wait()
    await runner.stop()
    if tracing is not None:
        await tracing.shutdown()


def _announce_slow(millis: int) -> None:
    print(f"SLOW {millis}", flush=True)  # the process's stdout: a test knows the call is in flight


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--keys-file", default="")
    parser.add_argument("--bare", action="store_true", help="no interceptors: the plain grpc.aio ceiling")
    parser.add_argument("--announce-slow", action="store_true", help='print "SLOW <millis>" as each Slow call starts')
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
