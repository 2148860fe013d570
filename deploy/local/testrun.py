"""`make test`: start the local infrastructure it needs, run every tier, stop what it started.

    python deploy/local/testrun.py all|unit|integration|e2e|containers|faults|bench|profile
    python deploy/local/testrun.py stress [RUNS]    # integration + e2e with one core kept busy, RUNS times

`all` is unit, integration and e2e; `containers` (the built images under podman) runs only when named.

A tier that collects no tests (pytest exit code 5) is a failure: every tier must run something.
With the integration tier, tests/store also runs against the second local store engine
(secantus-mdb and SecantusDB both pass it; see docs/store.md), started on PARTA_STORE_ALT_PORT.
`faults` (tests/faults) kills a Kafka broker of its own and chat replicas under load; it takes
minutes, so `all` leaves it out (docs/operations.md, "When a dependency is down").
`stress` is the timing check: CI machines are shared, so a test that passes only on an idle machine
is a defect. A CPU hog (one busy process, like a neighbour's build) runs for the whole run.
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


def run_conformance_on_other_engines(env: dict[str, str]) -> int:
    """tests/store against every local engine besides the primary, each started just for it."""
    code = 0
    for eng in infra.conformance_engines():
        print(f"\n===== store conformance: {eng} =====", flush=True)
        started = time.monotonic()
        name, uri = infra.second_store_up(eng)
        try:
            args = [sys.executable, "-m", "pytest", "tests/store", "-m", "integration", "-q", "-rfEs"]
            result = subprocess.call(args, cwd=ROOT, env={**env, "PARTA_TEST_MONGODB_URI": uri})
        finally:
            infra.stop_pid(name)
        if result == NO_TESTS:
            result = 1
        print(f"===== store conformance {eng}: exit {result} in {time.monotonic() - started:.0f}s =====", flush=True)
        code = code or result
    return code


def start_cpu_hog() -> subprocess.Popen[bytes]:
    """One process spinning on a core for as long as it lives; stopped by its PID."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)


def stop_cpu_hog(hog: subprocess.Popen[bytes]) -> None:
    hog.terminate()
    try:
        hog.wait(timeout=10)
    except subprocess.TimeoutExpired:
        hog.kill()
        hog.wait(timeout=10)


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "all"
    if target == "stress":
        runs = int(argv[1]) if len(argv) > 1 else 1
        hog = start_cpu_hog()
        print(f"CPU hog running as pid {hog.pid}; {runs} run(s) of integration + e2e", flush=True)
        try:
            for run in range(1, runs + 1):
                print(f"\n##### stress run {run}/{runs} #####", flush=True)
                if main(["integration+e2e"]) != 0:
                    print(f"stress run {run} failed", flush=True)
                    return 1
            print(f"{runs} stress run(s) passed in a row", flush=True)
            return 0
        finally:
            stop_cpu_hog(hog)
    if target == "integration+e2e":
        tiers = ["integration", "e2e"]
    else:
        tiers = ["unit", "integration", "e2e"] if target == "all" else [target]
    needs_infra = any(t != "unit" for t in tiers)
    started: list[str] = []
    env = dict(os.environ)
    if target in ("bench", "profile") and not os.environ.get("PARTA_STORE_ENGINE"):
        import store

        # The bench measures the services, so it runs on the fastest local store (docs/store.md).
        os.environ["PARTA_STORE_ENGINE"] = store.BENCH_ENGINE
        env["PARTA_STORE_ENGINE"] = store.BENCH_ENGINE
    try:
        if needs_infra:
            started = infra.up(["kafka", "store", *[n for n in infra.COMPONENTS if n not in ("kafka", "store")]])
            endpoints = infra.endpoints()
            env["PARTA_KAFKA_BOOTSTRAP"] = endpoints["kafka"]
            env["PARTA_TEST_MONGODB_URI"] = endpoints["mongodb"]
        if target in ("bench", "profile"):
            script = "run_all.py" if target == "bench" else "cpu_profile.py"
            return subprocess.call([sys.executable, f"tests/bench/{script}"], cwd=ROOT, env=env)
        failures = [tier for tier in tiers if run_tier(tier, env) != 0]
        if target in ("all", "integration") and run_conformance_on_other_engines(env) != 0:
            failures.append("store conformance (second engine)")
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
