"""Per-call cost of one RPC in a service process, independent of the store's speed.

Over a load window: store commands per call (the service's own PyMongo command monitoring,
`parta_store_commands_total` by scope, switched on by MONGODB_COMMAND_METRICS), Kafka records
per call (`parta_events_published_total`, what the outbox relay produced), and the process's CPU
time per call (utime + stime from /proc over the window, divided by the calls). These three are
what a production sizing is built from (docs/scaling.md); throughput and latency depend on the
store and the machine and are printed beside them.

    env = metered_env("CHAT_")            # extra env for Stack.start: a metrics port + counting on
    meter = Meter(process.process.pid, env)
    row = await meter.measure("SendMessage", "rpc:SendMessage", lambda: run_load(...))
"""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from common import LoadResult, percentile
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")

# Every cost row measured in this process, in order, for run_all's table.
COLLECTED: list[CostRow] = []


def metered_env(prefix: str) -> dict[str, str]:
    """Env for a service started by the bench: a metrics port on loopback and command counting on."""
    return {f"{prefix}METRICS_PORT": str(free_port()), f"{prefix}MONGODB_COMMAND_METRICS": "true"}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@dataclass
class Snapshot:
    cpu: float
    commands: dict[str, float] = field(default_factory=dict)  # by scope
    records: float = 0.0


@dataclass
class CostRow:
    rpc: str
    calls: int
    seconds: float
    latencies: list[float]
    commands_in_rpc: float | None  # per call, sent while handling the call itself
    commands_all: float | None  # per call, everything the process sent over the window (relay, consumers)
    records: float | None  # Kafka records produced per call
    cpu_us: float  # service process CPU per call
    note: str = ""
    by_scope: dict[str, float] = field(default_factory=dict)  # store commands per call, by sender

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def cells(self) -> list[str]:
        def num(value: float | None, digits: int = 2) -> str:
            return "–" if value is None else f"{value:.{digits}f}"

        return [
            self.rpc,
            f"{self.rate:,.0f}",
            f"{percentile(self.latencies, 50) * 1e3:.2f}" if self.latencies else "–",
            f"{percentile(self.latencies, 99) * 1e3:.2f}" if self.latencies else "–",
            num(self.commands_in_rpc),
            num(self.commands_all),
            num(self.records),
            f"{self.cpu_us:,.0f}",
            self.note,
        ]

    def __str__(self) -> str:
        _rpc, rate, p50, p99, cin, call, rec, cpu, note = self.cells()
        return (
            f"{rate}/s  p50 {p50} ms  p99 {p99} ms  store cmds/call {cin} (all {call})  "
            f"Kafka records/call {rec}  CPU {cpu} µs/call {note}"
            + (
                "  [" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(self.by_scope.items())) + "]"
                if self.by_scope
                else ""
            )
        ).rstrip()


class Meter:
    """Samples one service process: its CPU from /proc, its counters from its metrics endpoint."""

    def __init__(self, pid: int, env: dict[str, str] | None = None):
        self.pid = pid
        port = next((v for k, v in (env or {}).items() if k.endswith("METRICS_PORT")), "")
        self.url = f"http://127.0.0.1:{port}/metrics" if port else ""

    def _scrape(self) -> tuple[dict[str, float], float]:
        commands: dict[str, float] = {}
        records = 0.0
        if not self.url:
            return commands, records
        with urllib.request.urlopen(self.url, timeout=5) as reply:
            text = reply.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "parta_store_commands_total":
                    scope = sample.labels["scope"]
                    commands[scope] = commands.get(scope, 0.0) + sample.value
                elif sample.name == "parta_events_published_total":
                    records += sample.value
        return commands, records

    async def snapshot(self) -> Snapshot:
        commands, records = await asyncio.to_thread(self._scrape)
        return Snapshot(process_cpu_seconds(self.pid), commands, records)

    async def quiesce(self, interval: float = 0.7, timeout: float = 30.0) -> None:
        """Wait until the relay has published what the window produced: the published-records
        counter stops moving for one relay interval (a condition with a deadline, not a fixed sleep)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = (await self.snapshot()).records
        while loop.time() < deadline:
            await asyncio.sleep(interval)
            now = (await self.snapshot()).records
            if now == last:
                return
            last = now
        raise TimeoutError("the outbox relay kept publishing past the deadline")

    async def measure(
        self,
        rpc: str,
        scope: str | None,
        load: Callable[[], Awaitable[LoadResult]],
        *,
        calls: Callable[[LoadResult], int] | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
        note: str = "",
    ) -> CostRow:
        """Runs `load`, then `settle` (e.g. wait for the relay to drain), and divides by the calls.

        `scope` names the calls' own commands ("rpc:SendMessage"); `calls` overrides the divisor
        (deliveries rather than requests)."""
        before = await self.snapshot()
        result = await load()
        if settle is not None:
            await settle()
        after = await self.snapshot()
        return self.row(rpc, scope, before, after, result, calls(result) if calls else result.requests, note)

    def row(
        self, rpc: str, scope: str | None, before: Snapshot, after: Snapshot, result: LoadResult, n: int, note: str = ""
    ) -> CostRow:
        """A cost row from two snapshots taken around `n` calls (for windows measure() cannot wrap);
        collected for the run's table."""
        n = max(n, 1)
        delta = {s: after.commands.get(s, 0.0) - before.commands.get(s, 0.0) for s in after.commands}
        row = CostRow(
            rpc=rpc,
            calls=result.requests,
            seconds=result.seconds,
            latencies=result.latencies,
            commands_in_rpc=(delta.get(scope, 0.0) / n) if (self.url and scope) else None,
            commands_all=(sum(delta.values()) / n) if self.url else None,
            records=((after.records - before.records) / n) if self.url else None,
            cpu_us=(after.cpu - before.cpu) / n * 1e6,
            note=note,
            by_scope={k: v / n for k, v in delta.items() if v},
        )
        COLLECTED.append(row)
        return row


HEADER = [
    "RPC",
    "calls/s",
    "p50 ms",
    "p99 ms",
    "store cmds/call (in RPC)",
    "store cmds/call (all)",
    "Kafka records/call",
    "service CPU µs/call",
    "",
]


def table(rows: list[CostRow], ceiling: CostRow | None) -> str:
    """One markdown table: the echo ceiling first, then every measured RPC."""
    lines = ["| " + " | ".join(HEADER[:-1]) + " | note |", "|" + "---|" * len(HEADER)]
    for row in ([ceiling] if ceiling else []) + rows:
        lines.append("| " + " | ".join(row.cells()) + " |")
    return "\n".join(lines)
