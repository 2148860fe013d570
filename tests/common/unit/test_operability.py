"""What Kubernetes relies on: liveness independent of dependencies, metrics reachable where configured."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from parta_common.grpc.server import LIVENESS_SERVICE, GrpcServiceRunner, ServerSpec
from parta_common.testing.fakes import LogCapture

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_liveness_serves_while_dependencies_are_down_and_stops_on_shutdown():
    async def database_down() -> bool:
        return False

    runner = GrpcServiceRunner(
        ServerSpec(
            name="probe",
            host="127.0.0.1",
            port=0,
            registrars=[],
            service_names=["parta.testing.v1.Probe"],
            readiness=[database_down],
            grace_seconds=1,
        )
    )
    port = await runner.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            ready = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            alive = await stub.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE), timeout=5)
            assert ready.status == NOT_SERVING
            assert alive.status == SERVING
    finally:
        await runner.stop()
    # After shutdown the health servicer reports NOT_SERVING for every name, liveness included.
    after = await runner.health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE), None)
    assert after.status == NOT_SERVING


async def test_metrics_listen_where_the_settings_say(monkeypatch):
    """Kubernetes sets METRICS_HOST=0.0.0.0 so Prometheus can scrape; services just call serve(port)."""
    from parta_common import metrics as metrics_module
    from parta_common.kit import build_infrastructure
    from parta_common.settings import ServiceSettings

    seen: list[tuple[int, str]] = []
    monkeypatch.setattr(metrics_module, "start_http_server", lambda port, addr, registry: seen.append((port, addr)))
    settings = ServiceSettings(
        mongodb_uri="mongodb://127.0.0.1:1/?directConnection=true",
        mongodb_database="d",
        kafka_bootstrap="127.0.0.1:1",
        identity_address="127.0.0.1:1",
        metrics_host="0.0.0.0",
    )
    infra = build_infrastructure("probe", settings)
    infra.metrics.serve(9999)
    assert seen == [(9999, "0.0.0.0")]
    infra.metrics.serve(9998, "127.0.0.1")
    assert seen[-1] == (9998, "127.0.0.1")


class _HeldConsumer:
    """A worker that reports itself unhealthy, as EventConsumer does while an outage holds a record."""

    healthy = False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_an_unhealthy_worker_makes_the_replica_not_ready_but_still_alive():
    async def database_up() -> bool:
        return True

    worker = _HeldConsumer()
    runner = GrpcServiceRunner(
        ServerSpec(
            name="probe",
            host="127.0.0.1",
            port=0,
            registrars=[],
            service_names=["parta.testing.v1.Probe"],
            readiness=[database_up],
            workers=[worker],
            grace_seconds=1,
        )
    )
    await runner.start()
    try:
        assert not await runner._check_health()
        ready = await runner.health.Check(health_pb2.HealthCheckRequest(service=""), None)
        alive = await runner.health.Check(health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE), None)
        assert ready.status == NOT_SERVING and alive.status == SERVING
        worker.healthy = True
        assert await runner._check_health()
        ready = await runner.health.Check(health_pb2.HealthCheckRequest(service=""), None)
        assert ready.status == SERVING
    finally:
        await runner.stop()


async def test_a_worker_whose_stop_hangs_does_not_hold_the_drain_and_the_next_one_still_stops():
    # Seen in a clean-clone CI run: a chat replica's teardown waited forever on one worker's stop.
    stopped: list[str] = []

    class Hangs:
        async def start(self) -> None: ...

        async def stop(self) -> None:
            await asyncio.Event().wait()

    class Stops:
        async def start(self) -> None: ...

        async def stop(self) -> None:
            stopped.append("stops")

    runner = GrpcServiceRunner(
        ServerSpec(
            name="probe",
            host="127.0.0.1",
            port=0,
            registrars=[],
            service_names=["parta.testing.v1.Probe"],
            workers=[Stops(), Hangs()],  # stopped in reverse: the hanging one first
            grace_seconds=1,
            worker_stop_seconds=0.2,
        )
    )
    await runner.start()
    logs = LogCapture()
    await asyncio.wait_for(runner.stop(), timeout=30)
    assert stopped == ["stops"]
    assert any(e.get("event") == "worker_stop_timed_out" and e.get("worker") == "Hangs" for e in logs.events)
