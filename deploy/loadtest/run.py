"""`make loadtest SERVICE=<svc>`: load one Parta service on loopback with ghz and print the numbers.

    python deploy/loadtest/run.py chat [--duration 10s] [--concurrency 8] [--connections 2]
                                       [--users 10] [--rps 0] [--scenario NAME]... [--json FILE]

1. installs ghz into .cache/bin (deploy/tools.sh) and starts Kafka and the store if they are not up;
2. starts the service and what it needs (identity for tokens; school for chat) as processes on
   127.0.0.1 through tests/e2e/harness.py, with fresh databases and a fresh Kafka topic prefix;
3. seeds realistic data through the public gRPC APIs (deploy/loadtest/seeds.py) and signs the
   seeded people in through identity's development SMS gateway to get their access tokens;
4. runs every scenario of deploy/loadtest/scenarios/<svc>.json with ghz, each for --duration;
5. prints requests/s and latency percentiles per scenario, stops what it started.

Every run is bounded: ghz stops after --duration, and each step has a hard timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT / "deploy" / "local"), str(ROOT / "tests" / "e2e")]

import ghz  # noqa: E402
import infra  # noqa: E402  deploy/local/infra.py
import seeds  # noqa: E402
from harness import Stack  # noqa: E402  tests/e2e/harness.py

GHZ = ROOT / ".cache" / "bin" / "ghz"
SCENARIOS = HERE / "scenarios"
PACKAGES = {"identity": "identity", "school": "school", "chat": "chat", "media-signal": "media_signal"}
# Extra settings for load runs: everyone comes from 127.0.0.1, so per-address limits must not bite.
EXTRA_ENV: dict[str, dict[str, str]] = {
    "identity": {
        "IDENTITY_ADDRESS_LIMIT": "10000000",
        "IDENTITY_PHONE_DAILY_CAP": "1000",
        "IDENTITY_LOG_LEVEL": "warning",
    },
    "school": {"SCHOOL_LOG_LEVEL": "warning"},
    "chat": {"CHAT_LOG_LEVEL": "warning"},
    "media_signal": {"MEDIA_SIGNAL_LOG_LEVEL": "warning"},
}
DURATION = re.compile(r"^(\d+)(s|m)$")


def seconds(duration: str) -> int:
    match = DURATION.match(duration)
    if not match:
        raise argparse.ArgumentTypeError("duration like 10s or 2m")
    value = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    if not 1 <= value <= 600:
        raise argparse.ArgumentTypeError("duration must be between 1s and 10m")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=sorted(p.stem for p in SCENARIOS.glob("*.json")))
    parser.add_argument("--duration", default="10s", help="per scenario, e.g. 10s or 1m (max 10m)")
    parser.add_argument("--concurrency", type=int, default=8, help="ghz workers per scenario")
    parser.add_argument("--connections", type=int, default=2, help="gRPC connections ghz spreads workers over")
    parser.add_argument("--rps", type=int, default=0, help="constant rate per scenario; 0 = as fast as possible")
    parser.add_argument("--users", type=int, default=10, help="seeded people (tokens ghz rotates through)")
    parser.add_argument("--scenario", action="append", default=[], help="run only these scenarios (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the summaries as JSON here")
    args = parser.parse_args(argv)
    seconds(args.duration)
    if not 1 <= args.users <= 500:
        parser.error("--users must be between 1 and 500")
    if not 1 <= args.concurrency <= 512 or not 1 <= args.connections <= 64:
        parser.error("--concurrency 1..512, --connections 1..64")
    return args


async def start_stack(required: list[str], run_id: str) -> Stack:
    endpoints = infra.endpoints()
    stack = Stack(endpoints["mongodb"], endpoints["kafka"], run_id)
    operator_phone = seeds._phone(8999)
    for name in required:
        package = PACKAGES[name]
        extra = dict(EXTRA_ENV.get(package, {}))
        if package == "school":
            extra["SCHOOL_OPERATOR_PHONES"] = operator_phone
        if package == "media_signal":
            import media  # deploy/local/media.py: the local Janus and coturn

            m = media.env()
            extra.update(
                {
                    "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
                    "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
                    "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
                    "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": secrets.token_urlsafe(32),
                }
            )
        await stack.start(package, extra)
    stack.operator_phone = operator_phone  # type: ignore[attr-defined]
    return stack


async def seed(scenario_file: ghz.ScenarioFile, stack: Stack, users: int) -> tuple[dict, list[str]]:
    addresses = {name: svc.address for name, svc in stack.services.items()}
    addresses = {k.replace("_", "-"): v for k, v in addresses.items()}
    ctx = seeds.SeedContext(addresses, stack.sms_file, users, {"operator_phone": stack.operator_phone})  # type: ignore[attr-defined]
    return await asyncio.wait_for(seeds.SEEDS[scenario_file.seed](ctx), timeout=180)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    scenario_file = ghz.load(SCENARIOS / f"{args.service}.json")
    chosen = [s for s in scenario_file.scenarios if not args.scenario or s.name in args.scenario]
    if not chosen:
        print(f"no scenario named {args.scenario}; have: {[s.name for s in scenario_file.scenarios]}", file=sys.stderr)
        return 2
    subprocess.run(["bash", str(ROOT / "deploy" / "tools.sh"), "ghz"], check=True)

    components = ["kafka", "store"] + (["janus", "coturn"] if "media-signal" in scenario_file.requires else [])
    started_infra = infra.up(components)
    run_id = uuid.uuid4().hex[:8]
    stack: Stack | None = None
    summaries: list[ghz.Summary] = []
    try:
        began = time.monotonic()
        stack = asyncio.run(start_stack(scenario_file.requires, run_id))
        target = stack.services[PACKAGES[args.service]].address
        print(f"started {', '.join(scenario_file.requires)} in {time.monotonic() - began:.1f}s; target {target}")

        began = time.monotonic()
        variables, tokens = asyncio.run(seed(scenario_file, stack, args.users))
        print(f"seeded {len(tokens)} signed-in people in {time.monotonic() - began:.1f}s")

        protoset = ghz.build_protoset(ROOT / "proto", ROOT / ".cache" / "loadtest" / "parta.protoset")
        for scenario in chosen:
            argv_ghz = ghz.command(
                GHZ,
                scenario,
                target,
                variables,
                tokens,
                duration=args.duration,
                concurrency=args.concurrency,
                connections=args.connections,
                rps=args.rps,
                protoset=protoset,
            )
            print(f"… {scenario.name}: {scenario.call} for {args.duration}", flush=True)
            summaries.append(ghz.run(argv_ghz, scenario, timeout_seconds=seconds(args.duration) + 90))
    finally:
        if stack is not None:
            stack.stop_all()
        if started_infra:
            infra.down(started_infra)

    cpu = os.cpu_count()
    print()
    print(
        f"{args.service} on 127.0.0.1 — {args.duration} per scenario, concurrency {args.concurrency}, "
        f"{args.connections} connections, {len(tokens)} users, {cpu} CPUs shared by ghz and the service"
    )
    print(ghz.table(summaries))
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in summaries], indent=2, ensure_ascii=False))
    failed = [s.scenario for s in summaries if s.count == 0 or s.error_ratio > 0.01]
    if failed:
        print(f"scenarios with no successful calls or more than 1% errors: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
