"""Runs Parta services as real processes for end-to-end tests (and the demo), wired to the local
Kafka and Mongo-wire store, isolated per test by database names and a Kafka topic prefix."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / ".cache" / "logs" / "e2e"

# package → settings env prefix
PREFIXES = {
    "identity": "IDENTITY_",
    "school": "SCHOOL_",
    "chat": "CHAT_",
    "media_signal": "MEDIA_SIGNAL_",
    "audit": "AUDIT_",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    package: str
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@dataclass
class Stack:
    """Shared wiring for the services of one test: same Kafka topic prefix, own databases."""

    mongo_uri: str
    kafka_bootstrap: str
    run_id: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def sms_file(self) -> Path:
        """Where identity's development SMS gateway writes codes for this stack (see identity_client)."""
        return ROOT / ".cache" / "e2e" / f"sms-{self.run_id}.jsonl"

    @property
    def sealing_key(self) -> str:
        """chat's sealing key in this stack (development only: derived from the run id)."""
        return f"e2e-only-sealing-key-{self.run_id}-0123456789abcdef"

    def env_for(self, package: str, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
        prefix = PREFIXES[package]
        env = {
            f"{prefix}ENVIRONMENT": "development",
            f"{prefix}GRPC_HOST": "127.0.0.1",
            f"{prefix}GRPC_PORT": str(port),
            f"{prefix}MONGODB_URI": self.mongo_uri,
            f"{prefix}MONGODB_DATABASE": f"{package}_{self.run_id}",
            f"{prefix}KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            f"{prefix}KAFKA_TOPIC_PREFIX": f"t{self.run_id}.",
            f"{prefix}REPLICA_ID": f"{package}-{port}",
        }
        if package == "identity":
            # Codes land in a file the tests read; limits relaxed because every test comes from 127.0.0.1.
            env.update(
                {
                    "IDENTITY_DEV_SMS_FILE": str(self.sms_file),
                    "IDENTITY_ADDRESS_LIMIT": "100000",
                    "IDENTITY_PHONE_DAILY_CAP": "1000",
                    # The same person signs in through the API and then the browser within a second.
                    "IDENTITY_RESEND_COOLDOWN_SECONDS": "0",
                }
            )
        if package == "chat":
            # Deleted messages carry a seal of their content (docs/audit.md, "Sealed deletions").
            env["CHAT_SEALING_KEY"] = self.sealing_key
        if "identity" in self.services:
            env[f"{prefix}IDENTITY_ADDRESS"] = self.services["identity"].address
        if "school" in self.services:
            env[f"{prefix}SCHOOL_ADDRESS"] = self.services["school"].address
        env.update(extra or {})
        return env

    async def start(
        self, package: str, extra: dict[str, str] | None = None, name: str | None = None, module: str | None = None
    ) -> ServiceProcess:
        """`module`: run that module instead of `python -m <package>` (a fault test's chat with test keys)."""
        port = free_port()
        env = {**os.environ, **self.env_for(package, port, extra)}
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_path = LOG_DIR / f"{name or package}-{self.run_id}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", module or package], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        service = ServiceProcess(package, f"127.0.0.1:{port}", process, log_path, env)
        try:
            await wait_serving(service)
        except BaseException:
            service.stop()
            raise
        self.services[name or package] = service
        return service

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        self.services.clear()


async def wait_serving(service: ServiceProcess, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.package} exited with {service.process.returncode}:\n{service.log_tail()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{service.package} not SERVING after {timeout}s:\n{service.log_tail()}")
            await asyncio.sleep(0.2)
