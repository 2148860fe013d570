"""The container smoke run (tests/containers, `make test-containers`) configures each image from the
Kustomize files by reading them directly; this proves that reading equals what the rendered dev
overlay hands the pod (its ConfigMap and Secret), so "same configuration as Kubernetes" holds."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


images = _load("parta_deploy_images_u", ROOT / "deploy" / "images.py")


@pytest.fixture(scope="module")
def dev_documents() -> list[dict[str, Any]]:
    render = _load("parta_deploy_render_u", ROOT / "deploy" / "render.py")
    return list(render.render("dev", render.ensure_kustomize()).documents)


@pytest.mark.parametrize("service", images.SERVICES, ids=lambda s: s.name)
def test_container_config_is_the_dev_overlays_pod_environment(dev_documents, service):
    (deployment,) = [d for d in dev_documents if d["kind"] == "Deployment" and d["metadata"]["name"] == service.name]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in dev_documents}
    pod_env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            pod_env.update(by_name["ConfigMap", source["configMapRef"]["name"]]["data"])
        else:
            secret = by_name["Secret", source["secretRef"]["name"]]
            pod_env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
            pod_env.update(secret.get("stringData", {}))
    assert images.manifest_config(service) == pod_env
    assert pod_env[f"{service.prefix}ENVIRONMENT"] == "development"
