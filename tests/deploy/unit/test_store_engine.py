"""deploy/local/store.py picks the store engine: MONGODB_URI, then the setting, then mongod, then the default."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _store() -> ModuleType:
    spec = importlib.util.spec_from_file_location("parta_local_store", ROOT / "deploy" / "local" / "store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("PARTA_STORE_ENGINE", raising=False)
    module = _store()
    monkeypatch.setattr(module, "mongod_path", lambda: None)
    return module


def test_the_rust_daemon_is_the_default_and_the_bench_store(store: ModuleType) -> None:
    # docs/store.md (issue 18): the services no longer depend on its stale unique keys.
    assert store.engine() == "secantus-mdb"
    assert store.BENCH_ENGINE == "secantus-mdb"


def test_make_tests_second_conformance_run_uses_secantusdb(store: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("parta_local_infra", ROOT / "deploy" / "local" / "infra.py")
    assert spec is not None and spec.loader is not None
    infra = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, infra)  # its dataclasses look their module up
    spec.loader.exec_module(infra)
    monkeypatch.setitem(sys.modules, "store", store)  # infra imports its sibling by that name
    assert infra.conformance_engines() == ["secantusdb"]
    monkeypatch.setenv("PARTA_STORE_ENGINE", "secantusdb")
    assert infra.conformance_engines() == ["secantus-mdb"]


def test_the_setting_selects_the_rust_daemon(store: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTA_STORE_ENGINE", "secantus-mdb")
    assert store.engine() == "secantus-mdb"


def test_the_setting_selects_secantusdb_and_wins_over_a_mongod_on_path(
    store: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "mongod_path", lambda: "/usr/bin/mongod")
    assert store.engine() == "mongod"
    monkeypatch.setenv("PARTA_STORE_ENGINE", "secantusdb")
    assert store.engine() == "secantusdb"


def test_mongodb_uri_wins_over_everything(store: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTA_STORE_ENGINE", "secantusdb")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017")
    assert store.engine() == "external"


def test_an_unknown_engine_is_refused(store: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTA_STORE_ENGINE", "ferretdb")
    with pytest.raises(SystemExit, match="ferretdb"):
        store.engine()


def test_the_daemon_runs_on_loopback_with_the_pinned_flags_and_its_own_data_dir(
    store: ModuleType, tmp_path: Path
) -> None:
    binary = tmp_path / f"secantus-mdb-{store.SECANTUS_MDB_VERSION}" / "bin" / "secantusd-rs"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    cmd = store._server_command(tmp_path, 27999, "secantus-mdb")
    assert cmd[0] == str(binary)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "27999"
    assert cmd[cmd.index("--storage-path") + 1] == str(tmp_path / "data" / "store" / "secantus-mdb")
    assert ["--cache-size", "256M", "--log-file-max", "16MB", "--sync-on-commit"] == cmd[-5:]
    assert Path(cmd[cmd.index("--config") + 1]).exists()  # explicit: no config-file discovery
    py_server = tmp_path / "store" / "venv" / "bin" / "secantusd-py"
    py_server.parent.mkdir(parents=True)
    py_server.write_text("")
    second = store._server_command(tmp_path, 27998, "secantusdb", "store-secantusdb")
    assert "secantusd-py" in second[0]
    assert second[second.index("--storage-path") + 1] == str(tmp_path / "data" / "store-secantusdb" / "secantus")


def test_two_installs_sharing_a_cache_build_the_daemon_once(
    store: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Worktrees share PARTA_CACHE: a second `infra up` while the first was still compiling deleted
    # the first build's scratch directory. The second must wait for the first and then not build.
    import threading

    built: list[str] = []
    building = threading.Event()
    release = threading.Event()

    def fake_build(cache_dir: Path) -> None:
        built.append(threading.current_thread().name)
        building.set()
        assert release.wait(10), "the test never released the first build"

    monkeypatch.setattr(store, "_mdb_installed", lambda cache_dir: bool(built) and release.is_set())
    monkeypatch.setattr(store, "_build_secantus_mdb", fake_build)
    first = threading.Thread(target=store.install_secantus_mdb, args=(tmp_path,), name="first")
    first.start()
    assert building.wait(10), "the first install never started building"
    second = threading.Thread(target=store.install_secantus_mdb, args=(tmp_path,), name="second")
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second install did not wait for the first build"
    release.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()
    assert built == ["first"]
