"""Architecture: domain/ imports no outer layer or driver; app/ imports no adapters or api."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ("grpc", "google.protobuf", "pymongo", "aiokafka", "parta.", "motor", "structlog")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _packages() -> list[Path]:
    return sorted(p for p in (ROOT / "services").glob("*/src/*") if (p / "__init__.py").exists())


def test_there_are_services_to_check_or_none_yet():
    # Guards the glob itself: when services exist, each has a domain package to check.
    for package in _packages():
        assert (package / "domain").is_dir(), f"{package} has no domain/ layer"


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_inner_layers_do_not_import_outer_ones(package: Path):
    name = package.name
    outer = {
        "domain": (*DRIVERS, f"{name}.app", f"{name}.adapters", f"{name}.api", f"{name}.bootstrap"),
        "app": ("grpc", "pymongo", "aiokafka", "parta.", f"{name}.adapters", f"{name}.api", f"{name}.bootstrap"),
    }
    offenders = []
    for layer, forbidden in outer.items():
        for path in (package / layer).rglob("*.py"):
            for imported in _imports(path):
                if any(
                    imported == f.rstrip(".") or imported.startswith(f if f.endswith(".") else f + ".")
                    for f in forbidden
                ):
                    offenders.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not offenders, "\n".join(offenders)


# ---- api/ depends on app ports only --------------------------------------------------------------

# Every service is checked, a new one from its first commit: the strict-xfail allow-lists that let a
# service not yet on the kit pass (issue 12) are gone now that all of them comply.


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_api_does_not_import_adapters(package: Path):
    name = package.name
    offenders = [
        f"{path.relative_to(ROOT)} imports {imported}"
        for path in (package / "api").rglob("*.py")
        for imported in _imports(path)
        if imported == f"{name}.adapters" or imported.startswith(f"{name}.adapters.")
    ]
    assert not offenders, "api/ depends on app ports, not on adapters:\n" + "\n".join(offenders)


# ---- one idiom per concept: the kit's helpers are not re-defined in a service ---------------------

# Names of the kit's helpers (and the names their copies went by). A service that defines a
# function or class of one of these names has its own copy: import the kit's instead.
KIT_HELPERS = {
    "ts": "parta_common.timestamps",
    "_ts": "parta_common.timestamps",
    "from_ts": "parta_common.timestamps",
    "with_retries": "parta_common.retries",
    "_with_retries": "parta_common.retries",
    "apply_versioned": "parta_common.mongo",
    "derived_id": "parta_common.ids.IdNamespace",
    "_derived_id": "parta_common.ids.IdNamespace",
    "idempotent_id": "parta_common.mongo",
    "new_id": "parta_common.ids",
    "check_id": "parta_common.validation",
    "require_id": "parta_common.validation",
    "check_text": "parta_common.validation",
    "has_control_chars": "parta_common.validation",
    "check_request_id": "parta_common.validation",
    "make_envelope": "parta_common.events.envelope",
    "outbox_record": "parta_common.events.writer",
    "KeyringReloader": "parta_common.workers.PeriodicWorker",
}
# Every service is on the kit's idioms: chat's wider ids (up to 128 printable characters without
# spaces) are the kit's check_id with `max_len`/`printable`, its message text the kit's check_text
# with `prose`, and its membership projection apply_versioned with `pre_image`.


def _definitions(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.name, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_services_use_the_kits_helpers_instead_of_copies(package: Path):
    offenders = [
        f"{path.relative_to(ROOT)}:{line} defines {name} (use {KIT_HELPERS[name]})"
        for path in package.rglob("*.py")
        for name, line in _definitions(path)
        if name in KIT_HELPERS
    ]
    assert not offenders, "\n".join(offenders)


def test_bootstrap_files_define_no_classes():
    # Composition only: a public class in bootstrap.py is logic (a worker, a reloader) that belongs
    # in app/ or the kit. Allowed: the service's handle (…Service / App) and private one-line shims
    # that bind a kit protocol during composition (a leading underscore: `_LateKeys`, `_Started`).
    offenders = []
    for package in _packages():
        for name, line in _definitions(package / "bootstrap.py"):
            if name[:1].isupper() and not name.endswith(("Service", "App")):
                offenders.append(f"{package.name}/bootstrap.py:{line} defines {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("package", _packages(), ids=lambda p: p.name)
def test_projection_writes_go_through_apply_versioned(package: Path):
    # The version guard of a projection write ({"version": {"$lt": v}}) is apply_versioned's.
    offenders = [
        str(path.relative_to(ROOT)) for path in package.rglob("*.py") if '"version": {"$lt"' in path.read_text()
    ]
    assert not offenders, "use parta_common.mongo.apply_versioned:\n" + "\n".join(offenders)


# ---- events are dispatched by their message class (the kit's EventRouter), never by name ---------


def _event_type_names() -> frozenset[str]:
    """Every event message's short and full name (the strings a string-keyed dispatcher compares)."""
    import importlib
    import pkgutil

    import parta

    names: set[str] = set()
    for info in pkgutil.walk_packages(parta.__path__, "parta."):
        if info.name.endswith(".events_pb2"):
            for message in importlib.import_module(info.name).DESCRIPTOR.message_types_by_name.values():
                names |= {message.name, message.full_name}
    return frozenset(names)


def _string_dispatch(path: Path, event_names: frozenset[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))

    def is_event_type(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "event_type"

    def names_an_event(node: ast.AST | None) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) and node.value in event_names
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(names_an_event(e) for e in node.elts)
        return False

    found: list[str] = []
    for node in ast.walk(tree):
        why = ""
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(is_event_type(o) for o in operands):
                why = "compares .event_type"
            elif any(names_an_event(o) for o in operands):
                why = "compares with an event type's name"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and is_event_type(node.func.value):
            why = f"parses .event_type (.{node.func.attr})"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id.endswith("_pb2")
            and len(node.args) > 1
            and not isinstance(node.args[1], ast.Constant)
        ):
            why = "looks a message class up by name (getattr on a _pb2 module)"
        elif isinstance(node, ast.Dict) and any(names_an_event(k) for k in node.keys):
            why = "a dict keyed by event type names"
        if why:
            found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)} {why}")
    return found


def test_consumers_dispatch_events_by_message_class():
    # Issue 12: handlers are registered with parta_common.events.router.EventRouter by the proto
    # class they take; a service comparing or parsing event type names has its own dispatcher.
    event_names = _event_type_names()
    assert {"MemberJoined", "parta.chat.v1.MessagePosted"} <= event_names  # the check sees the protos
    offenders = sorted(
        found for path in ROOT.glob("services/*/src/*/**/*.py") for found in _string_dispatch(path, event_names)
    )
    assert not offenders, "dispatch with EventRouter (parta_common.events.router):\n" + "\n".join(offenders)
