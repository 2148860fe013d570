"""Prometheus metrics of one service, in its own registry (no module-level singletons)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None, *, host: str = "127.0.0.1"):
        self.service = service
        # Where serve() listens unless told otherwise: settings.metrics_host (0.0.0.0 in Kubernetes).
        self.host = host
        self.registry = registry or CollectorRegistry()
        self.rpc_latency = Histogram(
            "parta_rpc_latency_seconds",
            "RPC handling time",
            ["service", "method"],
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.rpc_total = Counter(
            "parta_rpc_total", "RPCs by final status", ["service", "method", "code"], registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "parta_outbox_backlog", "Documents with unpublished events", ["service"], registry=self.registry
        )
        self.events_published = Counter(
            "parta_events_published_total", "Events relayed to Kafka", ["service", "topic"], registry=self.registry
        )
        self.events_consumed = Counter(
            "parta_events_consumed_total",
            "Events handled by consumers",
            ["service", "group", "outcome"],
            registry=self.registry,
        )
        self.consumer_waiting = Gauge(
            "parta_consumer_waiting",
            "1 while a consumer group holds a record because a dependency (store, Kafka, peer) is down",
            ["service", "group"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "parta_consumer_lag",
            "Records behind the partition end",
            ["service", "group", "topic", "partition"],
            registry=self.registry,
        )

        self.store_commands = Counter(
            "parta_store_commands_total",
            "Store commands sent, by scope (rpc:Method, event:Type, worker:name) and command name; "
            "only with MONGODB_COMMAND_METRICS on",
            ["service", "scope", "command"],
            registry=self.registry,
        )

    def count_store_command(self, scope: str, command: str) -> None:
        self.store_commands.labels(self.service, scope, command).inc()

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        self.rpc_latency.labels(self.service, method).observe(seconds)
        self.rpc_total.labels(self.service, method, code).inc()

    def gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        """Service-specific gauges (live subscribers, rooms …) in the same registry."""
        return Gauge(name, documentation, ["service", *labels], registry=self.registry)

    def serve(self, port: int, host: str | None = None) -> None:
        start_http_server(port, addr=host or self.host, registry=self.registry)
