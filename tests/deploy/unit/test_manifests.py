"""Every overlay renders, passes offline schema validation, and every Parta workload is production-shaped.

Renders through deploy/render.py (the code behind `make render`), which installs kustomize with
deploy/tools.sh if it is missing, so CI checks exactly what operators apply.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parta_common.events import topics
from parta_common.events import topics as topics_module

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {
    "identity": (50051, 9101),
    "school": (50052, 9102),
    "chat": (50053, 9103),
    "media-signal": (50054, 9104),
    "audit": (50055, 9106),
}
PREFIXES = {
    "identity": "IDENTITY_",
    "school": "SCHOOL_",
    "chat": "CHAT_",
    "media-signal": "MEDIA_SIGNAL_",
    "audit": "AUDIT_",
}
TOPICS = set(topics.ALL)


def _load_render_module() -> Any:
    spec = importlib.util.spec_from_file_location("parta_deploy_render", ROOT / "deploy" / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def render() -> Any:
    return _load_render_module()


@pytest.fixture(scope="module")
def rendered(render: Any) -> dict[str, Any]:
    kustomize = render.ensure_kustomize()
    return {name: render.validate(render.render(name, kustomize)) for name in render.overlays()}


def by_kind(documents: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in documents if d["kind"] == kind)


def get(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in by_kind(documents, kind) if d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics for matchLabels and the matchExpressions we use."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        value, op, values = labels.get(expr["key"]), expr["operator"], expr.get("values", [])
        if (op == "In" and value not in values) or (op == "NotIn" and value in values):
            return False
        if (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def test_both_overlays_exist_and_render_without_schema_errors(rendered):
    assert set(rendered) == {"dev", "prod", "prod+tracing"}
    for name, result in rendered.items():
        assert result.errors == [], f"{name}: {result.errors}"
        assert result.path.is_file() and result.path.stat().st_size > 0
        kinds = {d["kind"] for d in result.documents}
        assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= kinds
        assert {"NetworkPolicy", "StatefulSet", "Kafka", "KafkaTopic", "ConfigMap", "Namespace"} <= kinds


def test_the_validator_rejects_a_broken_deployment(render, rendered):
    """Guards the guard: a misspelt field and a wrong type must be reported, not silently accepted."""
    result = rendered["prod"]
    original = get(result.documents, "Deployment", "chat")
    misspelt = copy.deepcopy(original)
    probe = misspelt["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["grpcc"] = probe.pop("grpc")
    wrong_type = copy.deepcopy(original)
    wrong_type["spec"]["replicas"] = "three"
    for broken, where in ((misspelt, "grpcc"), (wrong_type, "spec/replicas")):
        errors = render.validate(render.Rendered("broken", result.path, [broken])).errors
        assert len(errors) == 1 and errors[0].startswith("Deployment/chat") and where in errors[0], errors
    assert render.validate(render.Rendered("intact", result.path, [original])).errors == []


@pytest.mark.parametrize("overlay", ["dev", "prod"])
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_deployment_is_probed_limited_hardened_and_covered(rendered, overlay, service):
    docs = rendered[overlay].documents
    grpc_port, metrics_port = SERVICES[service]
    deployment = get(docs, "Deployment", service)
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    assert selects(deployment["spec"]["selector"], labels)

    # Native gRPC probes on the gRPC port: readiness follows dependencies, liveness does not.
    (container,) = spec["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": grpc_port, "metrics": metrics_port}
    assert container["readinessProbe"]["grpc"] == {"port": grpc_port}
    assert container["livenessProbe"]["grpc"] == {"port": grpc_port, "service": "parta.liveness"}
    assert container["startupProbe"]["grpc"]["port"] == grpc_port

    # Requests and limits for CPU and memory.
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound]), bound

    # Non-root, read-only, no privilege escalation, no capabilities, default seccomp; /tmp writable.
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in spec["volumes"])
    assert spec["automountServiceAccountToken"] is False
    assert get(docs, "ServiceAccount", spec["serviceAccountName"])["automountServiceAccountToken"] is False

    # Config from a ConfigMap and secrets from a Secret reference, both present in the render
    # except prod secrets, which the operator creates (never generated into a public overlay).
    refs = container["envFrom"]
    config_name = next(r["configMapRef"]["name"] for r in refs if "configMapRef" in r)
    secret_name = next(r["secretRef"]["name"] for r in refs if "secretRef" in r)
    config = get(docs, "ConfigMap", config_name)["data"]
    prefix = PREFIXES[service]
    assert config[f"{prefix}GRPC_PORT"] == str(grpc_port)
    assert config[f"{prefix}METRICS_PORT"] == str(metrics_port)
    assert config[f"{prefix}GRPC_HOST"] == "0.0.0.0"
    assert config[f"{prefix}ENVIRONMENT"] == ("production" if overlay == "prod" else "development")
    secrets = [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == secret_name]
    assert len(secrets) == (0 if overlay == "prod" else 1)

    # Prometheus scrapes the metrics port.
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(metrics_port)

    # A Service, a PDB, an HPA and a NetworkPolicy that really match this Deployment's pods.
    service_obj = get(docs, "Service", service)
    assert selects({"matchLabels": service_obj["spec"]["selector"]}, labels)
    assert service_obj["spec"]["ports"][0]["port"] == grpc_port
    pdbs = [p for p in by_kind(docs, "PodDisruptionBudget") if selects(p["spec"]["selector"], labels)]
    assert len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1
    hpas = [h for h in by_kind(docs, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == service]
    assert len(hpas) == 1 and hpas[0]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpas[0]["spec"]["minReplicas"] <= hpas[0]["spec"]["maxReplicas"]
    if overlay == "prod":
        assert deployment["spec"]["replicas"] >= 3 and hpas[0]["spec"]["minReplicas"] >= 3
    own = [
        n
        for n in by_kind(docs, "NetworkPolicy")
        if n["spec"]["podSelector"] and selects(n["spec"]["podSelector"], labels)
    ]
    assert len(own) == 1, [n["metadata"]["name"] for n in own]
    policy = own[0]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    # Every rule names its peers and ports: an empty `from`/`to` or missing ports would open everything.
    for rule in policy["ingress"]:
        assert rule.get("from") and rule.get("ports"), rule
    for rule in policy["egress"]:
        assert rule.get("to") and rule.get("ports"), rule
    grpc_ingress = [r for r in policy["ingress"] if {"protocol": "TCP", "port": grpc_port} in r["ports"]]
    assert grpc_ingress, "nothing may call the service"
    metrics_ingress = [r for r in policy["ingress"] if {"protocol": "TCP", "port": metrics_port} in r["ports"]]
    assert metrics_ingress and all(
        peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
        for r in metrics_ingress
        for peer in r["from"]
    )


def _allowed_ingress(docs, target: str, source: str, port: int) -> bool:
    target_labels = {"app.kubernetes.io/name": target}
    source_labels = {"app.kubernetes.io/name": source}
    for policy in by_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if not spec["podSelector"] or not selects(spec["podSelector"], target_labels):
            continue
        for rule in spec.get("ingress", []):
            if not any(p.get("port") == port for p in rule.get("ports", [])):
                continue
            for peer in rule.get("from", []):
                if "namespaceSelector" not in peer and selects(peer.get("podSelector", {}), source_labels):
                    return True
    return False


def _pod_labels(docs, name: str) -> dict[str, str]:
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == name]
    if workloads:
        return dict(workloads[0]["spec"]["template"]["metadata"]["labels"])
    return {"app.kubernetes.io/name": name}


def _allowed_egress(docs, source: str, target_labels: dict[str, str], port: int) -> bool:
    source_labels = _pod_labels(docs, source)
    for policy in by_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if not spec["podSelector"] or not selects(spec["podSelector"], source_labels):
            continue
        for rule in spec.get("egress", []):
            if not any(p.get("port") == port for p in rule.get("ports", [])):
                continue
            if any("podSelector" in peer and selects(peer["podSelector"], target_labels) for peer in rule["to"]):
                return True
    return False


def _env_sources(documents: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    """The environment a Deployment's container gets from its ConfigMaps (envFrom)."""
    (container, *_) = get(documents, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(get(documents, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
    return env


def test_tracing_is_off_by_default_and_the_component_switches_it_on_for_every_service(rendered):
    for overlay in ("dev", "prod"):
        for service in SERVICES:
            assert not any(k.startswith("OTEL_") for k in _env_sources(rendered[overlay].documents, service)), service
    docs = rendered["prod+tracing"].documents
    for service in SERVICES:
        env = _env_sources(docs, service)
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4317"), service
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        # Default deny still holds: the collector is reachable on OTLP/gRPC only.
        collector = {"app.kubernetes.io/name": "otel-collector"}
        assert _allowed_egress(docs, service, collector, 4317), service
        assert not _allowed_egress(docs, service, collector, 4318), service
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] in ("ConfigMap", "NetworkPolicy")} == {"parta"}


def test_network_policies_deny_by_default_and_allow_exactly_the_designed_calls(rendered):
    docs = rendered["prod"].documents
    deny = get(docs, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    dns = get(docs, "NetworkPolicy", "allow-dns-egress")["spec"]
    assert dns["podSelector"] == {} and {p["port"] for p in dns["egress"][0]["ports"]} == {53}

    kafka_pods = {"strimzi.io/cluster": "parta", "strimzi.io/kind": "Kafka"}
    for service in SERVICES:
        assert _allowed_egress(docs, service, {"app.kubernetes.io/name": "mongodb"}, 27017), service
        assert _allowed_egress(docs, service, kafka_pods, 9092), service
        assert _allowed_ingress(docs, "mongodb", service, 27017), service
    for caller in ("school", "chat", "media-signal", "audit"):
        assert _allowed_egress(docs, caller, {"app.kubernetes.io/name": "identity"}, 50051), caller
        assert _allowed_ingress(docs, "identity", caller, 50051), caller
    assert _allowed_egress(docs, "media-signal", {"app.kubernetes.io/name": "janus"}, 8088)
    # media-signal replicas forward EndRoom to the room's owner replica.
    assert _allowed_egress(docs, "media-signal", {"app.kubernetes.io/name": "media-signal"}, 50054)
    assert _allowed_ingress(docs, "media-signal", "media-signal", 50054)
    assert _allowed_ingress(docs, "janus", "media-signal", 8088)
    # audit asks school who administers a school (CheckPermission as its caller); nobody calls audit
    # but the gateway.
    assert _allowed_egress(docs, "audit", {"app.kubernetes.io/name": "school"}, 50052)
    assert _allowed_ingress(docs, "school", "audit", 50052)
    assert not _allowed_ingress(docs, "audit", "chat", 50055)
    assert not _allowed_egress(docs, "audit", {"app.kubernetes.io/name": "chat"}, 50053)
    # …and nothing else between the services: chat cannot call school or media-signal directly,
    # identity calls nobody, and only media-signal drives Janus.
    assert not _allowed_ingress(docs, "school", "chat", 50052)
    assert not _allowed_ingress(docs, "media-signal", "chat", 50054)
    assert not _allowed_egress(docs, "identity", {"app.kubernetes.io/name": "school"}, 50052)
    assert not _allowed_ingress(docs, "janus", "chat", 8088)
    # Kafka's listener admits exactly the services (Strimzi renders this into a policy).
    (listener,) = get(docs, "Kafka", "parta")["spec"]["kafka"]["listeners"]
    peers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in listener["networkPolicyPeers"]}
    assert peers == set(SERVICES)


def test_strimzi_resources_are_structurally_sound(rendered):
    for overlay, result in rendered.items():
        docs = result.documents
        kafka = get(docs, "Kafka", "parta")
        assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
        assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
        (pool,) = by_kind(docs, "KafkaNodePool")
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == "parta"
        assert set(pool["spec"]["roles"]) == {"controller", "broker"}
        brokers = pool["spec"]["replicas"]
        assert brokers == (3 if overlay.startswith("prod") else 1)

        topics = {t["spec"]["topicName"]: t for t in by_kind(docs, "KafkaTopic")}
        assert set(topics) == TOPICS | {f"{t}.dlq" for t in TOPICS}
        for name, topic in topics.items():
            assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
            assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "parta"
            assert topic["metadata"]["name"] == name.replace("_", "-")  # DNS-1123 subdomain
            assert topic["spec"]["partitions"] >= 1
            assert 1 <= topic["spec"]["replicas"] <= brokers
            assert int(topic["spec"]["config"]["min.insync.replicas"]) <= topic["spec"]["replicas"]
            retention = int(topic["spec"]["config"]["retention.ms"])
            if name.endswith(".dlq"):
                assert retention > 0
            elif name == topics_module.EXPORT_PARTS:
                # Export parts are personal data collected once into an archive: kept a week.
                assert retention == 7 * 86_400_000
            else:
                assert retention == -1, f"{name}: consumers must be able to replay domain events from the start"


def test_mongodb_is_a_three_member_replica_set_in_prod(rendered):
    docs = rendered["prod"].documents
    sts = get(docs, "StatefulSet", "mongodb")
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == "mongodb"
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--replSet=rs0" in args and any(a.startswith("--keyFile=") for a in args)
    headless = get(docs, "Service", "mongodb")["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    job = get(docs, "Job", "mongodb-init")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "MONGO_MEMBERS", "value": "3"} in job["env"]
    init_js = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("mongodb-init-scripts"))[
        "data"
    ]["init.js"]
    assert "replSetInitiate" in init_js and "createUser" in init_js


def test_dev_secrets_and_uris_line_up(rendered):
    docs = rendered["dev"].documents
    users = next(d for d in by_kind(docs, "Secret") if d["metadata"]["name"].startswith("mongodb-users"))
    assert set(users["data"]) == {
        "IDENTITY_PASSWORD",
        "SCHOOL_PASSWORD",
        "CHAT_PASSWORD",
        "MEDIA_SIGNAL_PASSWORD",
        "AUDIT_PASSWORD",
    }
    # init.js creates exactly these users, one per service database.
    init = (ROOT / "deploy" / "k8s" / "base" / "mongodb" / "init.js").read_text()
    assert all(f'"{k}"' in init for k in users["data"])
    secret = next(d for d in by_kind(docs, "Secret") if d["metadata"]["name"].startswith("media-signal-secrets"))
    assert {"MEDIA_SIGNAL_MONGODB_URI", "MEDIA_SIGNAL_JOIN_TOKEN_SECRET", "MEDIA_SIGNAL_TURN_SECRET"} <= set(
        secret["data"]
    )


def test_media_signal_pods_are_addressable_for_room_pinning(rendered):
    docs = rendered["prod"].documents
    spec = get(docs, "Deployment", "media-signal")["spec"]["template"]["spec"]
    headless = get(docs, "Service", spec["subdomain"])["spec"]
    assert headless["clusterIP"] == "None"
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["MEDIA_SIGNAL_ADVERTISE_ADDRESS"].startswith(f"$(POD_NAME).{spec['subdomain']}.")


def test_grafana_dashboard_is_valid_json_and_covers_the_service_metrics(rendered):
    path = ROOT / "deploy" / "k8s" / "base" / "observability" / "parta-overview.json"
    dashboard = json.loads(path.read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "parta_rpc_latency_seconds_bucket",
        "parta_rpc_total",
        "parta_consumer_lag",
        "parta_outbox_backlog",
        "chat_live_subscribers",
        "media_signal_live_rooms",
        "media_signal_participants",
    ):
        assert metric in exprs, metric
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "parta-overview"
    # Shipped to Grafana's sidecar as a ConfigMap in both overlays.
    for result in rendered.values():
        cm = get(result.documents, "ConfigMap", "grafana-dashboard-parta")
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"]["parta-overview.json"]) == dashboard


def test_identity_trusts_forwarded_addresses_only_from_the_pod_network(rendered):
    """Sign-in limits key on the real client behind the ingress (issue 11, finding 9): identity
    names its trusted proxies, they parse as CIDRs, and they are not "everyone"."""
    import ipaddress

    for overlay in ("dev", "prod"):
        env = _env_sources(rendered[overlay].documents, "identity")
        value = env["IDENTITY_TRUSTED_PROXIES"]
        networks = [ipaddress.ip_network(v.strip()) for v in value.split(",") if v.strip()]
        assert networks, overlay
        assert all(n.is_private and n.prefixlen >= 8 for n in networks), (overlay, value)


def test_every_service_trusts_forwarded_addresses_from_the_pod_network_only(rendered):
    """The web gateway forwards the browser's address; every service behind it believes that only
    from the pod network."""
    import ipaddress

    for overlay in ("dev", "prod"):
        for service, prefix in [*PREFIXES.items(), ("web", "WEB_")]:
            value = _env_sources(rendered[overlay].documents, service)[f"{prefix}TRUSTED_PROXIES"]
            networks = [ipaddress.ip_network(v.strip()) for v in value.split(",") if v.strip()]
            assert networks and all(n.is_private and n.prefixlen >= 8 for n in networks), (overlay, service)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_web_gateway_is_probed_hardened_and_reaches_exactly_the_four_services(rendered, overlay):
    from web.config import WebSettings

    docs = rendered[overlay].documents
    deployment = get(docs, "Deployment", "web")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8080, "metrics": 9105}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"]
    assert spec["automountServiceAccountToken"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    # The services admit the gateway by this label.
    assert labels["parta.io/gateway"] == "true"
    # Its settings are real fields, the required ones are given, and it holds no secrets.
    env = _env_sources(docs, "web")
    assert not [r for r in container["envFrom"] if "secretRef" in r]
    unknown = [k for k in env if k.startswith("WEB_") and k[4:].lower() not in WebSettings.model_fields]
    assert unknown == []
    required = {f"WEB_{n.upper()}" for n, f in WebSettings.model_fields.items() if f.is_required()}
    assert required <= set(env)
    assert env["WEB_ENVIRONMENT"] == ("production" if overlay == "prod" else "development")
    if overlay == "prod":
        assert deployment["spec"]["replicas"] >= 3 and env["WEB_PUBLIC_ORIGINS"].startswith("https://")
    service = get(docs, "Service", "web")
    assert selects({"matchLabels": service["spec"]["selector"]}, labels)
    assert any(selects(p["spec"]["selector"], labels) for p in by_kind(docs, "PodDisruptionBudget"))
    for target, port in (("identity", 50051), ("school", 50052), ("chat", 50053), ("media-signal", 50054)):
        assert _allowed_egress(docs, "web", {"app.kubernetes.io/name": target}, port), target
        ingress = get(docs, "NetworkPolicy", target)["spec"]["ingress"]
        assert any(
            {"protocol": "TCP", "port": port} in rule["ports"]
            and any(selects(peer.get("podSelector", {}), labels) for peer in rule["from"])
            for rule in ingress
        ), f"{target} does not admit the gateway"
    assert not _allowed_egress(docs, "web", {"app.kubernetes.io/name": "mongodb"}, 27017)
    assert not _allowed_egress(docs, "web", {"strimzi.io/cluster": "parta", "strimzi.io/kind": "Kafka"}, 9092)
