"""Size a region from the per-call costs `make bench` prints (docs/scaling.md explains the model).

    python tests/bench/sizing.py bench.log          # the log of one `make bench` run
    python tests/bench/sizing.py bench.log --users 2000000 --online 0.15

Reads the per-call table (markdown rows "| RPC | calls/s | p50 | p99 | cmds in RPC | cmds all |
records | CPU µs | note |") and prints cores, replicas, store commands/s, Kafka records/s and
partitions, and MongoDB shards for the peak school hour. Every input that is an assumption rather
than a measurement is a flag with its default, printed with the result.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from parta_common.events.topics import CHAT_MESSAGE


@dataclass
class Cost:
    cmds_rpc: float
    cmds_all: float
    records: float
    cpu_us: float


def parse(text: str) -> dict[str, Cost]:
    costs: dict[str, Cost] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 8 or cells[0] in ("RPC", "") or set(cells[0]) <= {"-"}:
            continue

        def num(cell: str) -> float:
            return 0.0 if cell in ("–", "") else float(cell.replace(",", ""))

        try:
            costs[cells[0]] = Cost(num(cells[4]), num(cells[5]), num(cells[6]), num(cells[7]))
        except ValueError:
            continue
    return costs


def find(costs: dict[str, Cost], prefix: str) -> Cost:
    for name, cost in costs.items():
        if name.startswith(prefix):
            return cost
    raise SystemExit(f"no row starting with {prefix!r} in the bench table")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", type=Path, help="output of one `make bench` run")
    ap.add_argument("--users", type=int, default=2_000_000)
    ap.add_argument("--online", type=float, default=0.15, help="share of users online at the peak")
    ap.add_argument("--messages-per-hour", type=float, default=10.0, help="per active (online) user, school hour")
    ap.add_argument("--class-size", type=int, default=30)
    ap.add_argument("--channel-share", type=float, default=0.01, help="share of messages posted in school channels")
    ap.add_argument("--channel-size", type=int, default=1000)
    ap.add_argument("--streams-per-replica", type=int, default=10_000, help="Subscribe streams one chat replica holds")
    ap.add_argument("--core-budget", type=float, default=0.7, help="usable share of a core (the HPA target)")
    ap.add_argument("--checks-per-message", type=float, default=1.0, help="token checks per send (the edge)")
    ap.add_argument("--shard-writes", type=float, default=10_000, help="writes/s one MongoDB replica set sustains")
    ap.add_argument("--message-bytes", type=float, default=600, help="stored bytes per message incl. indexes")
    ap.add_argument("--school-hours", type=float, default=6.0)
    ap.add_argument("--school-days", type=float, default=170.0)
    ap.add_argument("--shard-tb", type=float, default=1.0, help="data per shard we are willing to hold, TB")
    args = ap.parse_args(argv)
    costs = parse(args.log.read_text())

    send = find(costs, "chat SendMessage")
    klass = find(costs, "chat delivery, 30-member class")
    token = find(costs, "token check")
    online = args.users * args.online
    sends = online * args.messages_per_hour / 3600  # messages/s at the peak
    # The delivery rows include their send: what is left is the fan-out to the replica's streams.
    fanout_us_per_stream = max(klass.cpu_us - send.cpu_us, 0.0) / (args.class_size - 1)
    recipients = (1 - args.channel_share) * args.class_size * args.online + args.channel_share * (
        args.channel_size * args.online
    )
    deliveries = sends * recipients  # stream writes/s, only online members hold a stream
    replicas_streams = math.ceil(online / args.streams_per_replica)
    send_cores = sends * (send.cpu_us + args.checks_per_message * token.cpu_us) / 1e6
    fanout_cores = deliveries * fanout_us_per_stream / 1e6
    # Today every chat replica reads every record of chat.message.v1 (LiveReader on all partitions)
    # and decodes it before it knows whether it holds a subscriber: that part grows with replicas.
    per_replica_read_us = find(costs, "chat replica without subscribers").cpu_us
    replicas = replicas_streams
    for _ in range(10):
        read_cores = replicas * sends * per_replica_read_us / 1e6
        cores = send_cores + fanout_cores + read_cores
        need = max(replicas_streams, math.ceil(cores / args.core_budget))
        if need == replicas:
            break
        replicas = need
    store_cmds = sends * send.cmds_all + deliveries * klass.cmds_rpc / max(args.class_size - 1, 1)
    writes = sends * 2.5  # findAndModify (seq) + insert + relay ack, per send (measured rows: 5.4 commands)
    # Records per send as the fleet produces them: the sender's relay plus the other replicas' relays,
    # which drain the same outbox and sometimes publish an event twice (at least once; see scaling.md).
    records = sends * (send.records + find(costs, "chat replica without subscribers").records)
    stored_tb = sends * 3600 * args.school_hours * args.school_days * args.message_bytes / 1e12
    shards = max(math.ceil(writes / args.shard_writes), math.ceil(stored_tb / args.shard_tb))
    # One partition per chat replica for partition-affine delivery (docs/scaling.md), rounded up to
    # a power of two: partitions cannot be split later without moving keys.
    partitions = 2 ** math.ceil(math.log2(max(replicas, 12)))

    print(f"region: {args.users:,} users, {online:,.0f} online at the peak ({args.online:.0%})")
    print(f"messages: {sends:,.0f}/s sent, {deliveries:,.0f}/s stream deliveries ({recipients:.1f} online per message)")
    print(
        f"chat CPU: sends {send_cores:.2f} cores ({send.cpu_us:,.0f} µs + {args.checks_per_message:g} × token "
        f"{token.cpu_us:,.0f} µs), fan-out {fanout_cores:.2f} cores ({fanout_us_per_stream:,.0f} µs/stream), "
        f"every-replica topic read {read_cores:.2f} cores ({per_replica_read_us:,.0f} µs/msg/replica)"
    )
    print(
        f"chat replicas: {replicas} (streams need {replicas_streams} at {args.streams_per_replica:,}/replica; "
        f"CPU needs {math.ceil(cores / args.core_budget)} at {args.core_budget:.0%} of a core)"
    )
    print(f"store: {store_cmds:,.0f} commands/s from chat ({send.cmds_all:.2f}/send), ~{writes:,.0f} writes/s")
    print(f"store data: {stored_tb:.2f} TB of messages per school year → {shards} MongoDB shard(s) (replica sets)")
    print(f"Kafka: {records:,.0f} records/s on {CHAT_MESSAGE} → {partitions} partitions (one per chat replica)")
    cap = args.core_budget / (per_replica_read_us / 1e6)
    print(f"cap today: every replica reads every message, so the region tops out at {cap:,.0f} messages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
