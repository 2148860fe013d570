"""Container images for every Parta service, built with podman and no image registry.

    python deploy/images.py build            # `make images`: tools, base images, the service images
    python deploy/images.py sizes            # print each image's size

The machines that build Parta reach PyPI and Debian's package archive but no image registry, so the
base images are made here from Debian's own packages: mmdebstrap writes a minimal bookworm rootfs
with Debian's python3.11 (and, for the build stage, python3-venv and make), and `podman import` turns
each tarball into a local image. grpc_health_probe (built by deploy/tools.sh from the Go module
proxy) becomes a one-file image the same way. Every service image is then built from the one
parameterised deploy/images/service/Dockerfile. Everything is idempotent: a base image is remade only
when its recipe changes (a stamp under .cache/images/ records it), and podman's layer cache makes an
unchanged service rebuild take seconds.

Two facts about this machine kind shape the podman options (docs/operations.md, "Images"): the
sandbox has no CAP_SYS_RESOURCE, so a container may not ask for a higher rlimit than podman's own
(podman lowers its RLIMIT_NPROC to 32768 and asks 1048576 open files by default), and cgroups are a
v1/v2 hybrid that crun refuses, so the runtime is runc. Both are set in a containers.conf under
.cache/images/ (CONTAINERS_CONF), never in /etc.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "images"
DOCKERFILE = ROOT / "deploy" / "images" / "service" / "Dockerfile"
TAG = os.environ.get("PARTA_IMAGE_TAG", "dev")
SUITE = "bookworm"
MIRROR = os.environ.get("PARTA_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PROBE_VERSION = "v0.4.62"  # deploy/tools.sh pins the same
APT_PACKAGES = ["podman", "buildah", "runc", "mmdebstrap", "uidmap", "fuse-overlayfs", "slirp4netns"]
# The host's CA bundle: the build stage reaches PyPI with the roots this machine trusts.
HOST_CA = Path(os.environ.get("PARTA_BUILD_CA", "/etc/ssl/certs/ca-certificates.crt"))

RUNTIME_IMAGE = "localhost/parta/python:3.11-bookworm"
BUILD_IMAGE = "localhost/parta/python-build:3.11-bookworm"
PROBE_IMAGE = f"localhost/parta/grpc-health-probe:{PROBE_VERSION}"


@dataclass(frozen=True)
class Service:
    name: str  # services/<name>, image parta/<name>
    package: str  # python -m <package>
    prefix: str  # settings prefix
    grpc_port: int  # the serving port (HTTP for the web gateway)
    metrics_port: int
    probe: str = "grpc"  # the image's HEALTHCHECK: grpc_health_probe, or HTTP /healthz

    @property
    def image(self) -> str:
        return f"localhost/parta/{self.name}:{TAG}"


SERVICES = [
    Service("identity", "identity", "IDENTITY_", 50051, 9101),
    Service("school", "school", "SCHOOL_", 50052, 9102),
    Service("chat", "chat", "CHAT_", 50053, 9103),
    Service("media-signal", "media_signal", "MEDIA_SIGNAL_", 50054, 9104),
    Service("web", "web", "WEB_", 8080, 9105, probe="http"),
    Service("audit", "audit", "AUDIT_", 50055, 9106),
]

# The system user every service runs as (the manifests' runAsUser/runAsGroup).
USER_HOOKS = [
    'chroot "$1" groupadd --system --gid 10001 parta',
    'chroot "$1" useradd --system --uid 10001 --gid parta --no-create-home --home-dir /nonexistent'
    " --shell /usr/sbin/nologin parta",
]
BASES = {
    # name: (image, Debian packages)
    "runtime": (RUNTIME_IMAGE, ["python3.11", "ca-certificates", "tzdata"]),
    "build": (BUILD_IMAGE, ["python3.11", "python3.11-venv", "ca-certificates", "make"]),
}


def manifest_config(service: Service) -> dict[str, str]:
    """The environment Kubernetes gives the service in the dev overlay: the base ConfigMap literals,
    the dev overlay's merges and its throw-away secrets, read from the Kustomize files themselves."""
    import yaml

    k8s = ROOT / "deploy" / "k8s"

    def literals(kustomization: Path, generator: str, name: str) -> dict[str, str]:
        data = yaml.safe_load(kustomization.read_text())
        found: dict[str, str] = {}
        for entry in data.get(generator) or []:
            if entry["name"] == name:
                found.update(line.split("=", 1) for line in entry.get("literals", []))
        return found

    dev = k8s / "overlays" / "dev" / "kustomization.yaml"
    config = literals(
        k8s / "base" / service.name / "kustomization.yaml", "configMapGenerator", f"{service.name}-config"
    )
    config.update(literals(dev, "configMapGenerator", f"{service.name}-config"))
    config.update(literals(dev, "secretGenerator", f"{service.name}-secrets"))
    return config


def say(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def containers_conf() -> Path:
    """podman settings this sandbox needs, in a file of our own (CONTAINERS_CONF), not in /etc."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # podman lowers its own RLIMIT_NPROC to 32768 before it starts the runtime; without
    # CAP_SYS_RESOURCE a container cannot be given more than that.
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
    text = (
        "# Written by deploy/images.py: no CAP_SYS_RESOURCE here (rlimits may not be raised) and a\n"
        "# cgroup v1/v2 hybrid that crun refuses (runc accepts it).\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'events_logger = "file"\n'
    )
    path = CACHE / "containers.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(*args: str, capture: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], env=env(), text=True, capture_output=capture, check=check)


def install_tools() -> None:
    missing = [p for p in APT_PACKAGES if not _dpkg_installed(p)]
    if missing:
        if os.geteuid() != 0:
            raise SystemExit(f"images: install {' '.join(missing)} (apt-get) first")
        say(f"apt-get install {' '.join(missing)}")
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=quiet)
    subprocess.run(["bash", str(ROOT / "deploy" / "tools.sh"), "grpc-health-probe"], check=True)


def _dpkg_installed(package: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return result.stdout.strip() == "install ok installed"


def image_exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def _fresh(image: str, recipe: str) -> tuple[bool, Path]:
    stamp = CACHE / f"{image.replace('/', '_').replace(':', '_')}.recipe"
    return image_exists(image) and stamp.exists() and stamp.read_text() == recipe, stamp


def build_base(kind: str) -> None:
    image, packages = BASES[kind]
    recipe = json.dumps({"suite": SUITE, "mirror": MIRROR, "packages": packages, "hooks": USER_HOOKS})
    fresh, stamp = _fresh(image, recipe)
    if fresh:
        say(f"{image}: up to date")
        return
    tarball = CACHE / f"{kind}-rootfs.tar"
    say(f"{image}: mmdebstrap {SUITE} ({', '.join(packages)})")
    argv = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(packages)}"]
    argv += [f"--customize-hook={hook}" for hook in USER_HOOKS]
    # No documentation or apt lists in an image; the runtime never runs apt.
    argv += ["--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*"]
    argv += ["--dpkgopt=path-exclude=/usr/share/locale/*", '--customize-hook=rm -rf "$1"/var/lib/apt/lists/*']
    subprocess.run([*argv, SUITE, str(tarball), MIRROR], check=True)
    podman("import", "--change", 'CMD ["/usr/bin/python3.11"]', str(tarball), image, capture=True)
    tarball.unlink()
    stamp.write_text(recipe)


def build_probe() -> None:
    binary = ROOT / ".cache" / "bin" / "grpc-health-probe"
    recipe = hashlib.sha256(binary.read_bytes()).hexdigest()
    fresh, stamp = _fresh(PROBE_IMAGE, recipe)
    if fresh:
        say(f"{PROBE_IMAGE}: up to date")
        return
    tarball = CACHE / "probe.tar"
    with tarfile.open(tarball, "w") as tar:
        info = tar.gettarinfo(str(binary), arcname="grpc_health_probe")
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "root", "root"
        with binary.open("rb") as handle:
            tar.addfile(info, handle)
    podman("import", str(tarball), PROBE_IMAGE, capture=True)
    tarball.unlink()
    stamp.write_text(recipe)


WEB_DIST = ROOT / "services" / "web" / "app" / "dist"


def build_service(service: Service) -> float:
    started = time.monotonic()
    if service.name == "web" and not (WEB_DIST / "index.html").is_file():
        # The Dockerfile copies this dist into the web image (no Node in the build stage).
        raise SystemExit("images: services/web/app/dist is not built (make setup builds it)")
    say(f"{service.image}: podman build")
    args = {
        "SERVICE": service.name,
        "PACKAGE": service.package,
        "PREFIX": service.prefix,
        "GRPC_PORT": str(service.grpc_port),
        "METRICS_PORT": str(service.metrics_port),
        "PROBE": service.probe,
    }
    # docker format: OCI image configs have no HEALTHCHECK, and the probe is part of the image.
    argv = [
        "build",
        "--format",
        "docker",
        "--network",
        "host",
        "--secret",
        f"id=ca,src={HOST_CA}",
        "-f",
        str(DOCKERFILE),
    ]
    for key, value in args.items():
        argv += ["--build-arg", f"{key}={value}"]
    # The build stage is shared by every service up to its first service-specific step.
    argv += ["--layers", "-t", service.image, str(ROOT)]
    podman(*argv)
    return time.monotonic() - started


def sizes() -> dict[str, int]:
    out = podman("image", "ls", "--format", "json", capture=True).stdout
    found: dict[str, int] = {}
    for image in json.loads(out or "[]"):
        for name in image.get("Names") or []:
            found[name] = int(image["Size"])
    wanted = [RUNTIME_IMAGE, BUILD_IMAGE, PROBE_IMAGE] + [s.image for s in SERVICES]
    return {name: found[name] for name in wanted if name in found}


def print_sizes() -> None:
    for name, size in sizes().items():
        print(f"{name:50} {size / 1e6:8.1f} MB")


def build(names: list[str]) -> int:
    if shutil.which("go") is None:
        raise SystemExit("images: the Go toolchain builds grpc_health_probe (deploy/tools.sh)")
    started = time.monotonic()
    install_tools()
    for kind in BASES:
        build_base(kind)
    build_probe()
    base_seconds = time.monotonic() - started
    timings = {s.name: build_service(s) for s in SERVICES if not names or s.name in names}
    say(f"tools and base images: {base_seconds:.0f} s")
    for name, seconds in timings.items():
        say(f"{name}: {seconds:.0f} s")
    say(f"total: {time.monotonic() - started:.0f} s")
    print_sizes()
    return 0


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("build", [])
    if command == "build":
        return build(rest)
    if command == "sizes":
        print_sizes()
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
