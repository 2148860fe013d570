"""The manifests and the services agree on configuration: every variable a Deployment sets is a field
of that service's settings class (pydantic ignores unknown ones, so a typo would silently do
nothing), and the dev overlay gives every required field, so its pods can start."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
from parta_common.settings import ServiceSettings

from tests.deploy.unit.test_manifests import _load_render_module, by_kind, get

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {
    "identity": "identity",
    "school": "school",
    "chat": "chat",
    "media-signal": "media_signal",
    "audit": "audit",
}
PREFIXES = {
    "identity": "IDENTITY_",
    "school": "SCHOOL_",
    "chat": "CHAT_",
    "media-signal": "MEDIA_SIGNAL_",
    "audit": "AUDIT_",
}
# Secret keys the prod overlay expects the operator to create (docs/operations.md, "Secrets").
PROD_SECRET_KEYS = {
    "identity": {"IDENTITY_MONGODB_URI", "IDENTITY_SIGNING_KEYS", "IDENTITY_HASH_KEY", "IDENTITY_SMS_HTTP_URL"},
    "school": {"SCHOOL_MONGODB_URI", "SCHOOL_SECRET_KEY", "SCHOOL_OPERATOR_PHONES"},
    "chat": {"CHAT_MONGODB_URI", "CHAT_SEALING_KEY"},
    "media-signal": {"MEDIA_SIGNAL_MONGODB_URI", "MEDIA_SIGNAL_JOIN_TOKEN_SECRET", "MEDIA_SIGNAL_TURN_SECRET"},
    "audit": {"AUDIT_MONGODB_URI"},
}


def settings_class(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.config")
    classes = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings) and c is not ServiceSettings and c.__module__ == module.__name__
    ]
    assert len(classes) == 1, classes
    return classes[0]


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    render = _load_render_module()
    kustomize = render.ensure_kustomize()
    return {name: render.render(name, kustomize).documents for name in render.overlays()}


def provided(docs: list[dict[str, Any]], service: str) -> tuple[set[str], set[str]]:
    """(variables set by ConfigMap/env, variables from Secrets present in the render)."""
    container = get(docs, "Deployment", service)["spec"]["template"]["spec"]["containers"][0]
    plain = {e["name"] for e in container.get("env", [])}
    secret: set[str] = set()
    for ref in container["envFrom"]:
        if "configMapRef" in ref:
            plain |= set(get(docs, "ConfigMap", ref["configMapRef"]["name"])["data"])
        else:
            found = [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == ref["secretRef"]["name"]]
            for document in found:
                secret |= set(document.get("data", {})) | set(document.get("stringData", {}))
    return plain, secret


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_variable_is_a_known_setting_and_required_ones_are_given(rendered, overlay, service):
    cls = settings_class(SERVICES[service])
    prefix = PREFIXES[service]
    plain, secret = provided(rendered[overlay], service)
    if overlay == "prod":
        assert secret == set(), "prod secrets are created by the operator, never rendered"
        secret = PROD_SECRET_KEYS[service]
    ours = {name for name in plain | secret if name.startswith(prefix)}
    unknown = sorted(name for name in ours if name[len(prefix) :].lower() not in cls.model_fields)
    assert unknown == [], f"{service} has no such settings: {unknown}"
    required = {f"{prefix}{name.upper()}" for name, field in cls.model_fields.items() if field.is_required()}
    missing = sorted(required - ours)
    assert missing == [], f"{overlay}: {service} would refuse to start without {missing}"
