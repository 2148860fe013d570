"""`make run` / `make stop`: the whole platform on loopback with a demo school.

    python deploy/local/stack.py up      # infrastructure + every service + the web gateway + demo data;
                                         # prints the web app's URL and how to sign in
    python deploy/local/stack.py down    # stops the services, then the infrastructure this stack started
    python deploy/local/stack.py status

Services run as `python -m <pkg>` processes with their settings in environment variables (the same
variables a Kubernetes Deployment sets); logs go to .cache/logs/<service>.log.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import infra

ROOT = infra.ROOT
STATE = infra.RUN / "stack.json"
SMS_FILE = infra.RUN / "dev-sms.jsonl"
# The demo operator (deploy/local/demo.py). A real mobile range: identity accepts only valid numbers,
# and +7 000… is not one.
OPERATOR_PHONE = "+79000000001"

# The local gRPC ports sit below Linux's ephemeral range (32768-60999 by default), so no program's
# outgoing connection can hold them; PARTA_GRPC_PORT_BASE moves them all (then point the CLI at them
# with PARTA_*_ADDR). In Kubernetes each pod keeps the services' own defaults, 50051-50055.
GRPC_PORT_BASE = int(os.environ.get("PARTA_GRPC_PORT_BASE", "25050"))

# package, service directory, settings prefix, gRPC port, metrics port
SERVICES = [
    ("identity", "identity", "IDENTITY_", GRPC_PORT_BASE + 1, 9101),
    ("school", "school", "SCHOOL_", GRPC_PORT_BASE + 2, 9102),
    ("chat", "chat", "CHAT_", GRPC_PORT_BASE + 3, 9103),
    ("media_signal", "media-signal", "MEDIA_SIGNAL_", GRPC_PORT_BASE + 4, 9104),
    # The audit trail (docs/audit.md): 25058 leaves 25055-25057 to services added beside it.
    ("audit", "audit", "AUDIT_", GRPC_PORT_BASE + 8, 9108),
]

# The web gateway (services/web): HTTP for the browser, in front of the four; `make run` prints its URL.
WEB_PORT = GRPC_PORT_BASE + 30
WEB_METRICS_PORT = 9105


def present_services() -> list[tuple[str, str, str, int, int]]:
    return [s for s in SERVICES if (ROOT / "services" / s[1] / "pyproject.toml").exists()]


def addresses() -> dict[str, str]:
    return {package: f"127.0.0.1:{port}" for package, _, _, port, _ in SERVICES}


def service_env(package: str, prefix: str, port: int, metrics_port: int) -> dict[str, str]:
    endpoints = infra.endpoints()
    env = {
        "ENVIRONMENT": "development",
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "MONGODB_URI": endpoints["mongodb"],
        "MONGODB_DATABASE": f"parta_{package}",
        "KAFKA_BOOTSTRAP": endpoints["kafka"],
        "IDENTITY_ADDRESS": addresses()["identity"],
        "SCHOOL_ADDRESS": addresses()["school"],
        "REPLICA_ID": f"{package}-1",
    }
    # The web gateway on 127.0.0.1 forwards the browser's address; believe it from loopback only.
    env["TRUSTED_PROXIES"] = "127.0.0.1/32"
    if package == "identity":
        env["DEV_SMS_FILE"] = str(SMS_FILE)
        # Every demo sign-in comes from 127.0.0.1: the seed's 16 people and their reruns must not hit
        # the strict per-address and per-phone limits meant for the internet.
        env["ADDRESS_LIMIT"] = "1000"
        env["PHONE_DAILY_CAP"] = "100"
        env["RESEND_COOLDOWN_SECONDS"] = "5"
    if package == "school":
        env["OPERATOR_PHONES"] = OPERATOR_PHONE
        if web_present():
            # Invite links open the local web app (the default https://parta.local/ is nowhere here).
            env["INVITE_BASE_URL"] = f"{web_url()}join/"
    if package == "media_signal":
        try:
            import media

            media_env = media.env()
            env["JANUS_URL"] = media_env["janus_url"]
            env["TURN_URIS"] = media_env["turn_uri"]
            env["TURN_SECRET"] = media_env["turn_secret"]
        except ImportError:
            pass
        env["JOIN_TOKEN_SECRET"] = local_secret("join-token.secret")
    if package == "chat":
        # Deleted messages carry a seal of their content (docs/audit.md, "Sealed deletions").
        env["SEALING_KEY"] = local_secret("chat-sealing.key")
    return {prefix + key: value for key, value in env.items()}


def local_secret(name: str) -> str:
    """A random secret made once per machine in .cache/run (owner-only), so restarts keep it."""
    path = infra.RUN / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def web_present() -> bool:
    return (ROOT / "services" / "web" / "pyproject.toml").exists()


def web_env() -> dict[str, str]:
    env = {
        "ENVIRONMENT": "development",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(WEB_PORT),
        "METRICS_PORT": str(WEB_METRICS_PORT),
        "IDENTITY_ADDRESS": addresses()["identity"],
        "SCHOOL_ADDRESS": addresses()["school"],
        "CHAT_ADDRESS": addresses()["chat"],
        "MEDIA_SIGNAL_ADDRESS": addresses()["media_signal"],
        "AUDIT_ADDRESS": addresses()["audit"],
        "REPLICA_ID": "web-1",
        # The same-origin check compares the browser's Origin with these, not with the Host header
        # (the URL printed, and the same port by name).
        "PUBLIC_ORIGINS": f"{web_url().rstrip('/')},http://localhost:{WEB_PORT}",
    }
    return {f"WEB_{key}": value for key, value in env.items()}


def web_url() -> str:
    return f"http://127.0.0.1:{WEB_PORT}/"


def start_web() -> None:
    if infra.running_pid("svc-web"):
        return
    if infra.port_open(WEB_PORT):
        raise SystemExit(f"port {WEB_PORT} for the web gateway is taken by another process")
    infra.spawn("svc-web", [sys.executable, "-m", "web"], cwd=ROOT, env=web_env())


def wait_web(timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if infra.running_pid("svc-web") is None:
            tail = (infra.LOGS / "svc-web.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"the web gateway exited while starting; log tail:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{WEB_PORT}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the web gateway is not ready after {timeout}s (see {infra.LOGS / 'svc-web.log'})")


def start_service(package: str, prefix: str, port: int, metrics_port: int) -> None:
    name = f"svc-{package}"
    if infra.running_pid(name):
        return
    if infra.port_open(port):
        raise SystemExit(f"port {port} for {package} is taken by another process")
    infra.spawn(name, [sys.executable, "-m", package], cwd=ROOT, env=service_env(package, prefix, port, metrics_port))


def wait_serving(package: str, port: int, timeout: float = 90.0) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if infra.running_pid(f"svc-{package}") is None:
                tail = (infra.LOGS / f"svc-{package}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{package} exited while starting; log tail:\n{tail}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.3)
    raise SystemExit(f"{package} not SERVING after {timeout}s (see {infra.LOGS / f'svc-{package}.log'})")


def planned_ports(services: list[tuple[str, str, str, int, int]]) -> tuple[dict[str, int], frozenset[str]]:
    """Every listener `make run` needs, and which of them must be free now (those not yet running)."""
    ports = {"kafka": infra.KAFKA_PORT, "kafka controller": infra.KAFKA_CONTROLLER_PORT, "store": infra.STORE_PORT}
    try:
        import media

        ports.update({"janus": media.JANUS_PORT, "turn": media.TURN_PORT})
    except ImportError:
        pass
    free = set()
    for package, _, _, port, metrics in services:
        ports[f"{package} grpc"] = port
        ports[f"{package} metrics"] = metrics
        if not infra.running_pid(f"svc-{package}"):
            free |= {f"{package} grpc", f"{package} metrics"}
    if web_present():
        ports.update({"web http": WEB_PORT, "web metrics": WEB_METRICS_PORT})
        if not infra.running_pid("svc-web"):
            free |= {"web http", "web metrics"}
    return ports, frozenset(free)


def check_ports(services: list[tuple[str, str, str, int, int]]) -> None:
    ports, free = planned_ports(services)
    problems = infra.port_problems(ports, must_be_free=free)
    if problems:
        raise SystemExit("cannot start the stack:\n  " + "\n  ".join(problems))


def up() -> int:
    check_ports(present_services())
    remember_started(infra.up([]))
    services = present_services()
    for package, _, prefix, port, metrics in services:
        start_service(package, prefix, port, metrics)
    for package, _, _, port, _ in services:
        wait_serving(package, port)
    if web_present():
        start_web()
        wait_web()
    print("Parta is running:")
    for package, _, _, port, _ in services:
        print(f"  {package:13} grpc 127.0.0.1:{port}   metrics http://127.0.0.1:{metrics_port(package)}/metrics")
    if web_present():
        print(f"  {'web':13} http 127.0.0.1:{WEB_PORT}   metrics http://127.0.0.1:{WEB_METRICS_PORT}/metrics")
    demo = ROOT / "deploy" / "local" / "demo.py"
    code = 0
    if demo.exists():
        args = [sys.executable, str(demo), "--sms-file", str(SMS_FILE)]
        if web_present():
            args += ["--web-url", web_url()]
        code = subprocess.call(args, cwd=ROOT)
    if web_present():
        # Last, so it is the line people see; the demo above lists who can sign in.
        print(f"Open the web app: {web_url()}  (sign-in codes: {SMS_FILE})")
    return code


def remember_started(started: list[str]) -> None:
    """Adds what this `up` started to the state file. On a fresh clone whose Kafka and store already
    run (another checkout's), nothing was spawned and .cache/run may not exist yet."""
    previous = json.loads(STATE.read_text()) if STATE.exists() else {"infra": []}
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps({"infra": sorted(set(previous["infra"]) | set(started))}))


def metrics_port(package: str) -> int:
    return next(metrics for name, _, _, _, metrics in SERVICES if name == package)


def down() -> int:
    if infra.stop_pid("svc-web"):
        print("stopped web")
    for package, *_ in reversed(SERVICES):
        if infra.stop_pid(f"svc-{package}"):
            print(f"stopped {package}")
    # Only what `up` started: Kafka, the store or Janus that were already running belong to someone
    # else (another checkout, a test run). infra.down([]) means "everything", so never pass it [].
    state = json.loads(STATE.read_text()) if STATE.exists() else {"infra": []}
    if state["infra"]:
        infra.down(state["infra"])
    STATE.unlink(missing_ok=True)
    return 0


def status() -> int:
    for package in [*(s[0] for s in SERVICES), "web"]:
        pid = infra.running_pid(f"svc-{package}")
        print(f"{package:13} {'running pid ' + str(pid) if pid else 'stopped'}")
    return infra.main(["status"])


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "up":
        return up()
    if command == "down":
        return down()
    if command == "status":
        return status()
    print(__doc__)
    return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
