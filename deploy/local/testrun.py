"""`make test`: start the local infrastructure it needs, run every tier, stop what it started.

    python deploy/local/testrun.py all|unit|integration|e2e|containers|bench

`all` is unit, integration and e2e; `containers` (the built images under podman) runs only when named.

A tier that collects no tests (pytest exit code 5) is a failure: every tier must run something.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import infra

ROOT = infra.ROOT
NO_TESTS = 5


def run_tier(tier: str, env: dict[str, str]) -> int:
    print(f"\n===== tier: {tier} =====", flush=True)
    started = time.monotonic()
    args = [sys.executable, "-m", "pytest", "tests", "-m", tier, "-q", "-rfEs", "--durations=5"]
    extra = os.environ.get("PYTEST_ADDOPTS_EXTRA", "").split()
    code = subprocess.call([*args, *extra], cwd=ROOT, env=env)
    if code == NO_TESTS:
        print(f"tier {tier}: no tests were collected — that is a failure, not a pass", flush=True)
        code = 1
    print(f"===== tier {tier}: exit {code} in {time.monotonic() - started:.0f}s =====", flush=True)
    return code


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "all"
    tiers = ["unit", "integration", "e2e"] if target == "all" else [target]
    needs_infra = any(t != "unit" for t in tiers)
    started: list[str] = []
    env = dict(os.environ)
    try:
        if needs_infra:
            started = infra.up(["kafka", "store", *[n for n in infra.COMPONENTS if n not in ("kafka", "store")]])
            endpoints = infra.endpoints()
            env["PARTA_KAFKA_BOOTSTRAP"] = endpoints["kafka"]
            env["PARTA_TEST_MONGODB_URI"] = endpoints["mongodb"]
        if target == "bench":
            return subprocess.call([sys.executable, "tests/bench/run_all.py"], cwd=ROOT, env=env)
        failures = [tier for tier in tiers if run_tier(tier, env) != 0]
        if failures:
            print(f"FAILED tiers: {', '.join(failures)}", flush=True)
            return 1
        print("all tiers passed", flush=True)
        return 0
    finally:
        if started:
            infra.down(started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
