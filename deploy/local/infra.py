"""Local infrastructure on loopback: install into .cache/, start, check readiness, stop by PID.

    python deploy/local/infra.py up [kafka] [store] …   # idempotent; prints the endpoints as JSON
    python deploy/local/infra.py down                   # stops what `up` started
    python deploy/local/infra.py status

Components: kafka (Apache Kafka 4.1 KRaft single node from Maven Central jars, Java 17) and
store (secantus-mdb, the Rust Mongo-wire daemon chosen in docs/store.md; PARTA_STORE_ENGINE=secantusdb
picks the pip-installed Python server; a real mongod / MONGODB_URI when given).
Media servers (janus, coturn) are added by deploy/local/media.py when present.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PARTA_CACHE", ROOT / ".cache"))
RUN = CACHE / "run"
LOGS = CACHE / "logs"
DATA = CACHE / "data"
sys.path.insert(0, str(Path(__file__).parent))

KAFKA_VERSION = "4.1.1"
KAFKA_PORT = int(os.environ.get("PARTA_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("PARTA_KAFKA_CONTROLLER_PORT", "9093"))
STORE_PORT = int(os.environ.get("PARTA_STORE_PORT", "27017"))
# The second store engine, started only for the conformance suite (`make test` runs tests/store
# against both engines so a fallback engine never rots).
STORE_ALT_PORT = int(os.environ.get("PARTA_STORE_ALT_PORT", str(STORE_PORT + 1)))


def say(message: str) -> None:
    print(f"[infra] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    return pid


def _no_core_files() -> None:
    """A crashing daemon (Janus under a test's load) must not drop a core file of hundreds of
    megabytes into the working directory, where it is one `git add -A` from history. Set on this
    process, so every child inherits it: a `preexec_fn` would run Python between fork and exec, and
    in a process with other threads (a test's gRPC and driver threads) the child can die right there,
    silently, while Popen reports a started process (a restarted test broker "exited while starting"
    with an empty log under load, stop 25)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))


def spawn(name: str, argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")
    _no_core_files()
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd or RUN,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    pid_file(name).write_text(str(proc.pid))
    return proc.pid


def stop_pid(name: str, timeout: float = 20.0, *, kill: bool = False) -> bool:
    """SIGTERM the process group and wait; `kill` sends SIGKILL at once (a crash, for tests)."""
    pid = running_pid(name)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our own child (tests spawn brokers), else a zombie looks alive.
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        say(f"{name} did not stop in {timeout}s; killing")
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pid_file(name).unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def exclusive(name: str):  # type: ignore[no-untyped-def]
    """Holds RUN/<name>.lock (flock) for the block: several worktrees share one PARTA_CACHE, and two
    `up`s racing for the same component would each build or start it (two stores on one port, or one
    build deleting the other's scratch). The second waits, then finds the component running."""
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / f"{name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another process that is bringing up {name} (holding {RUN / (name + '.lock')})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# Linux hands out local ports for outgoing connections from this range; a listener placed inside
# it can find its port held by some program's outgoing connection (seen: `make run` failing on
# 50052/50054). The kernel's own defaults are 32768-60999.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
RESERVED_PORTS_FILE = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


def ephemeral_range() -> tuple[int, int] | None:
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return None  # not Linux: nothing to check
    return low, high


def reserved_ports() -> set[int]:
    """Ports an administrator took out of the ephemeral range (net.ipv4.ip_local_reserved_ports)."""
    try:
        text = RESERVED_PORTS_FILE.read_text().strip()
    except OSError:
        return set()
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def port_problems(ports: dict[str, int], *, must_be_free: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with the listeners `ports` (name -> port) before anything starts: a port inside
    the ephemeral range (unless reserved), or, for the names in `must_be_free`, one already taken."""
    problems = []
    span = ephemeral_range()
    reserved = reserved_ports() if span else set()
    for name, port in sorted(ports.items(), key=lambda item: item[1]):
        if span and span[0] <= port <= span[1] and port not in reserved:
            problems.append(
                f"{name}: port {port} lies in the ephemeral range {span[0]}-{span[1]} "
                f"({EPHEMERAL_RANGE_FILE}), where outgoing connections may hold it; pick a port below "
                f"{span[0]} or reserve it (sysctl net.ipv4.ip_local_reserved_ports={port})"
            )
        if name in must_be_free and port_open(port):
            problems.append(f"{name}: port {port} is already taken by another process (`ss -ltnp 'sport = :{port}'`)")
    return problems


def wait_for(what: str, check: Callable[[], bool], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if running_pid(name) is None:
            tail = (LOGS / f"{name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} exited while starting; log tail:\n{tail}")
        time.sleep(0.3)
    raise SystemExit(f"{what} not ready after {timeout}s (see {LOGS / (name + '.log')})")


# ---------------------------------------------------------------- kafka

KAFKA_HOME = CACHE / "kafka"
KAFKA_LIBS = KAFKA_HOME / "libs"

KAFKA_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>parta.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
  </dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin></plugins></build>
</project>
"""

LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %c{1} - %m%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
"""


def kafka_install() -> None:
    marker = KAFKA_LIBS / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if marker.exists():
        return
    say(f"downloading Apache Kafka {KAFKA_VERSION} jars from Maven Central")
    KAFKA_HOME.mkdir(parents=True, exist_ok=True)
    (KAFKA_HOME / "pom.xml").write_text(KAFKA_POM)
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(KAFKA_HOME / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        check=True,
    )
    if not marker.exists():
        raise SystemExit(f"Kafka download did not produce {marker}")


@dataclass(frozen=True)
class KafkaNode:
    """One single-node KRaft broker; tests start a second one on other ports to stop it at will."""

    name: str = "kafka"
    port: int = KAFKA_PORT
    controller_port: int = KAFKA_CONTROLLER_PORT

    @property
    def data(self) -> Path:
        return DATA / self.name

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def properties(self) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.data}",
                "num.partitions=3",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "num.network.threads=2",
                "num.io.threads=2",
                "log.retention.hours=24",
                "log.segment.bytes=67108864",
                "",
            ]
        )

    def ready(self) -> bool:
        """A real metadata round trip (ApiVersions + Metadata), not just an open port."""
        if not port_open(self.port):
            return False
        try:
            import asyncio

            from aiokafka import AIOKafkaClient

            async def probe() -> bool:
                client = AIOKafkaClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                try:
                    await client.bootstrap()
                    return bool(client.cluster.brokers())
                finally:
                    await client.close()

            return asyncio.run(probe())
        except Exception:
            return False

    def up(self) -> bool:
        """Starts the broker unless it already runs; True when this call started it."""
        if running_pid(self.name) and self.ready():
            return False
        if port_open(self.port):
            if self.ready():
                say(f"using the Kafka broker already listening on {self.bootstrap}")
                return False
            raise SystemExit(f"port {self.port} is taken by something that is not Kafka")
        kafka_install()
        self.data.mkdir(parents=True, exist_ok=True)
        props = KAFKA_HOME / f"{self.name}.properties"
        props.write_text(self.properties())
        (KAFKA_HOME / "log4j2.properties").write_text(LOG4J2)
        classpath = f"{KAFKA_LIBS}/*"
        log4j = f"-Dlog4j2.configurationFile={KAFKA_HOME / 'log4j2.properties'}"
        if not (self.data / "meta.properties").exists():
            subprocess.run(
                [
                    "java",
                    log4j,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    uuid.uuid4().hex[:22],
                    "-c",
                    str(props),
                    "--ignore-formatted",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        spawn(
            self.name,
            [
                "java",
                "-Xms128m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                log4j,
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ],
        )
        wait_for("Kafka", self.ready, 90, self.name)
        say(f"Kafka {KAFKA_VERSION} ready on {self.bootstrap}")
        return True

    def down(self, *, kill: bool = False) -> bool:
        return stop_pid(self.name, kill=kill)


def kafka_up() -> bool:
    return KafkaNode().up()


# ---------------------------------------------------------------- store


def store_uri() -> str:
    import store

    return store.external_uri() or f"mongodb://127.0.0.1:{STORE_PORT}/?directConnection=true"


def store_up() -> bool:
    import store

    if store.external_uri():
        say("using MONGODB_URI from the environment")
        return False
    if running_pid("store") and store.ready(STORE_PORT):
        return False
    if port_open(STORE_PORT):
        if store.ready(STORE_PORT):
            say(f"using the Mongo-wire server already listening on 127.0.0.1:{STORE_PORT}")
            return False
        raise SystemExit(f"port {STORE_PORT} is taken by something that does not speak the Mongo wire protocol")
    store.install(CACHE)
    pid = store.start(CACHE, STORE_PORT)
    pid_file("store").write_text(str(pid))
    wait_for("store", lambda: store.ready(STORE_PORT), 60, "store")
    say(f"Mongo-wire store ready on 127.0.0.1:{STORE_PORT}")
    return True


def conformance_engines() -> list[str]:
    """The local engines besides the primary one that tests/store must also pass on (none when
    MONGODB_URI is given: then nothing local is installed or started)."""
    import store

    primary = store.engine()
    if primary == "external":
        return []
    return [eng for eng in ("secantus-mdb", "secantusdb") if eng != primary]


def second_store_up(eng: str, port: int = STORE_ALT_PORT) -> tuple[str, str]:
    """Starts `eng` on `port` under its own name; returns (name for stop_pid, URI)."""
    import store

    name = f"store-{eng}"
    if port_open(port):
        raise SystemExit(f"port {port} is taken: set PARTA_STORE_ALT_PORT for the second store engine")
    store.install(CACHE, eng)
    pid = store.start(CACHE, port, eng, name)
    pid_file(name).write_text(str(pid))
    wait_for(f"store {eng}", lambda: store.ready(port), 60, name)
    say(f"{eng} ready on 127.0.0.1:{port} for the conformance suite")
    return name, f"mongodb://127.0.0.1:{port}/?directConnection=true"


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Component:
    up: Callable[[], bool]


COMPONENTS: dict[str, Component] = {"kafka": Component(kafka_up), "store": Component(store_up)}
try:
    import media  # Janus and coturn, when that part of the stack is present

    COMPONENTS.update(media.COMPONENTS)
except ImportError:
    pass


def endpoints() -> dict[str, str]:
    return {"kafka": f"127.0.0.1:{KAFKA_PORT}", "mongodb": store_uri()}


def up(names: list[str]) -> list[str]:
    """Starts the named components (all by default); returns those this call started."""
    started = []
    for name in names or list(COMPONENTS):
        with exclusive(f"{name}.up"):
            if COMPONENTS[name].up():
                started.append(name)
    return started


def down(names: list[str]) -> None:
    for name in reversed(names or list(COMPONENTS)):
        if stop_pid(name):
            say(f"stopped {name}")


def main(argv: list[str]) -> int:
    command, names = (argv[0] if argv else "status"), argv[1:]
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        print(f"unknown components: {unknown}; known: {list(COMPONENTS)}", file=sys.stderr)
        return 2
    if command == "up":
        up(names)
        print(json.dumps(endpoints()))
    elif command == "down":
        down(names)
    elif command == "status":
        for name in COMPONENTS:
            pid = running_pid(name)
            print(f"{name:8} {'running pid ' + str(pid) if pid else 'stopped'}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
