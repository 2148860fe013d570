"""`make render`: build every Kustomize overlay into .cache/render/<overlay>.yaml and validate it offline.

    python deploy/render.py [overlay ...]      (default: every folder in deploy/k8s/overlays)

kustomize comes from deploy/tools.sh (installed into .cache/bin on first use). Every rendered object
is validated in strict mode (unknown fields are errors) against the Kubernetes JSON schemas bundled
in the `kubernetes-validate` package, so no cluster and no network are needed. Strimzi resources
have no bundled schema; tests/deploy checks them structurally instead. Exit status 1 on any error.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
OUT = ROOT / ".cache" / "render"
KUSTOMIZE = ROOT / ".cache" / "bin" / "kustomize"
# Kinds that come from CRDs and therefore have no schema in kubernetes-validate.
CUSTOM_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic"}


@dataclass
class Rendered:
    overlay: str
    path: Path
    documents: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def ensure_kustomize() -> Path:
    """The repo's own installer is idempotent and fast once the binary is there."""
    subprocess.run(["bash", str(ROOT / "deploy" / "tools.sh"), "kustomize"], check=True, cwd=ROOT)
    return KUSTOMIZE


def overlays() -> list[str]:
    return sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").is_file())


def render(overlay: str, kustomize: Path) -> Rendered:
    result = subprocess.run(
        [str(kustomize), "build", str(OVERLAYS / overlay)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return Rendered(overlay, OUT / f"{overlay}.yaml", [], [f"kustomize build failed:\n{result.stderr.strip()}"])
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{overlay}.yaml"
    path.write_text(result.stdout)
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(overlay, path, documents)


def validate(rendered: Rendered, version: str | None = None) -> Rendered:
    version = version or kubernetes_validate.latest_version()
    for doc in rendered.documents:
        ref = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if doc.get("kind") in CUSTOM_KINDS:
            rendered.skipped.append(ref)
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.path)
            rendered.errors.append(f"{ref}: {error.message} (at {where or '<root>'})")
        except kubernetes_validate.SchemaNotFoundError as error:
            rendered.errors.append(f"{ref}: no schema for {doc.get('apiVersion')} {doc.get('kind')} ({error})")
    return rendered


def main(argv: list[str]) -> int:
    started = time.monotonic()
    kustomize = ensure_kustomize()
    version = kubernetes_validate.latest_version()
    failed = False
    for overlay in argv or overlays():
        rendered = validate(render(overlay, kustomize), version)
        kinds: dict[str, int] = {}
        for doc in rendered.documents:
            kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        status = "FAILED" if rendered.errors else "ok"
        print(f"{overlay}: {status} — {len(rendered.documents)} objects → {rendered.path.relative_to(ROOT)}")
        print(f"  {summary}")
        print(f"  schemas: Kubernetes {version} (strict); CRDs left to tests/deploy: {len(rendered.skipped)}")
        for error in rendered.errors:
            print(f"  ERROR {error}")
        failed = failed or bool(rendered.errors)
    print(f"render: {'FAILED' if failed else 'ok'} in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
