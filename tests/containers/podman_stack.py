"""Runs the services' images (built by `make images`) as podman containers on the host network, with
the environment the Kubernetes dev overlay gives them and the pod's hardening: a numeric non-root
user, a read-only root filesystem with a tmpfs /tmp (the manifests' emptyDir), every capability
dropped and no privilege escalation. Only what must differ on one host is overridden: loopback
addresses, free ports, the local Kafka and store, per-run databases and topic prefix, and a host
directory for the development SMS file. Each container is stopped by its id."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.harness import ROOT, free_port

UID = "10001"
LOG_DIR = ROOT / ".cache" / "logs" / "containers"


def _load_images() -> Any:
    spec = importlib.util.spec_from_file_location("parta_deploy_images", ROOT / "deploy" / "images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


images = _load_images()


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], env=images.env(), text=True, capture_output=True, check=check)


@dataclass
class Container:
    service: Any  # images.Service
    container_id: str
    address: str
    env: dict[str, str] = field(default_factory=dict)

    def running(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", self.container_id, check=False)
        return state.stdout.strip() == "true"

    def logs(self, chars: int = 4000) -> str:
        out = podman("logs", self.container_id, check=False)
        return (out.stdout + out.stderr)[-chars:]

    def stop(self, timeout: int = 25) -> int:
        """SIGTERM by container id (the service drains), then its log is kept and the container removed."""
        podman("stop", "--time", str(timeout), self.container_id, check=False)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", self.container_id, check=False).stdout.strip()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / f"{self.service.name}-{self.container_id[:12]}.log").write_text(self.logs(200_000))
        podman("rm", "--force", self.container_id, check=False)
        return int(code) if code.lstrip("-").isdigit() else -1


@dataclass
class ContainerStack:
    mongo_uri: str
    kafka_bootstrap: str
    run_id: str
    sms_dir: Path
    containers: dict[str, Container] = field(default_factory=dict)

    @property
    def sms_file(self) -> Path:
        return self.sms_dir / "sms-codes.jsonl"

    def env_for(self, service: Any, port: int) -> dict[str, str]:
        p = service.prefix
        env = images.manifest_config(service)
        env.update(
            {
                f"{p}GRPC_HOST": "127.0.0.1",
                f"{p}GRPC_PORT": str(port),
                f"{p}METRICS_HOST": "127.0.0.1",
                f"{p}METRICS_PORT": str(free_port()),
                f"{p}MONGODB_URI": self.mongo_uri,
                f"{p}MONGODB_DATABASE": f"{service.package}_{self.run_id}",
                f"{p}KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                f"{p}KAFKA_TOPIC_PREFIX": f"t{self.run_id}.",
                f"{p}REPLICA_ID": f"{service.name}-{self.run_id}",  # the pod name in Kubernetes
                "PARTA_GRPC_PORT": str(port),  # the image's HEALTHCHECK
            }
        )
        if f"{p}IDENTITY_ADDRESS" in env:  # the Kubernetes Service name becomes the container's port
            env[f"{p}IDENTITY_ADDRESS"] = self.containers["identity"].address
        if f"{p}SCHOOL_ADDRESS" in env and "school" in self.containers:  # audit asks school
            env[f"{p}SCHOOL_ADDRESS"] = self.containers["school"].address
        if service.name == "identity":
            env["IDENTITY_DEV_SMS_FILE"] = "/sms/sms-codes.jsonl"
        if service.name == "media-signal":
            sys.path.insert(0, str(ROOT / "deploy" / "local"))
            import media  # the shared Janus and coturn on loopback

            media_env = media.env()
            env["MEDIA_SIGNAL_JANUS_URL"] = media_env["janus_url"]
            env["MEDIA_SIGNAL_TURN_URIS"] = media_env["turn_uri"]
        return env

    async def start(self, name: str, extra: dict[str, str] | None = None) -> Container:
        (service,) = [s for s in images.SERVICES if s.name == name]
        port = free_port()
        env = {**self.env_for(service, port), **(extra or {})}
        argv = ["run", "--detach", "--name", f"parta-{name}-{self.run_id}", "--network", "host"]
        argv += ["--user", f"{UID}:{UID}", "--read-only", "--tmpfs", "/tmp:rw,size=64m,mode=1777"]
        argv += ["--cap-drop", "all", "--security-opt", "no-new-privileges"]
        if name == "identity":
            self.sms_dir.mkdir(parents=True, exist_ok=True)
            self.sms_dir.chmod(0o777)  # written by uid 10001 inside, read by the test outside
            argv += ["--volume", f"{self.sms_dir}:/sms:rw"]
        for key, value in sorted(env.items()):
            argv += ["--env", f"{key}={value}"]
        container_id = podman(*argv, service.image).stdout.strip()
        container = Container(service, container_id, f"127.0.0.1:{port}", env)
        try:
            await wait_serving(container)
        except BaseException:
            container.stop()
            raise
        self.containers[name] = container
        return container

    def stop_all(self) -> dict[str, int]:
        """Stops every container, last started first; returns each one's exit code."""
        codes = {name: c.stop() for name, c in reversed(list(self.containers.items()))}
        self.containers.clear()
        return codes


async def health(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return int(reply.status)


async def wait_serving(container: Container, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if not container.running():
            raise RuntimeError(f"{container.service.name} container exited:\n{container.logs()}")
        try:
            if await health(container.address) == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        if loop.time() > deadline:
            raise TimeoutError(f"{container.service.name} not SERVING after {timeout}s:\n{container.logs()}")
        await asyncio.sleep(0.3)
