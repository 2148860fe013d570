"""Fault-test support: a Mongo-wire store of the test's own (free port, own data directory) that the
test kills and restarts at will. The shared store is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import store as store_script  # noqa: E402  (deploy/local is not a package)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StoreProcess:
    """One store server; `kill()` SIGKILLs it (an outage, not a clean stop), `start()` brings it back
    on the same port and data, so acknowledged writes must still be there."""

    def __init__(self) -> None:
        self.cache = Path(os.environ.get("PARTA_CACHE", ROOT / ".cache"))
        self.port = free_port()
        self.data = Path(tempfile.mkdtemp(prefix="parta-chaos-store-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        # journal=true: the local store acknowledges unjournaled writes, and SIGKILL then loses the
        # last ~second of them (measured); production MongoDB's w:majority journals by default.
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true&journal=true"

    def _command(self) -> list[str]:
        # The same engine the rest of the run uses (secantus-mdb unless told otherwise); with
        # MONGODB_URI set there is no local engine to kill, so the default one is started here.
        eng = store_script.engine()
        if eng == "external":
            eng = store_script.DEFAULT_ENGINE
        if eng == "mongod":
            mongod = store_script.mongod_path() or "mongod"
            return [mongod, "--bind_ip", "127.0.0.1", "--port", str(self.port), "--dbpath", str(self.data)]
        store_script.install(self.cache, eng)  # idempotent: already there when the run's store is this engine
        (self.data / "db").mkdir(parents=True, exist_ok=True)
        config = self.data / "secantusd.toml"
        config.write_text("# chaos store: every setting is a flag\n")
        common = ["--config", str(config), "--host", "127.0.0.1", "--port", str(self.port)]
        if eng == "secantus-mdb":
            exe = store_script._mdb_binary(self.cache)
            return [str(exe), *common, "--storage-path", str(self.data / "db"), *store_script.SECANTUS_MDB_FLAGS]
        exe = self.cache / "store" / "venv" / "bin" / "secantusd-py"
        return [str(exe), *common, "--storage-path", str(self.data / "db"), "--log-level", "WARNING"]

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.data / "store.log", "ab")
        self.proc = subprocess.Popen(
            self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        if not store_script.wait_ready(self.port, timeout=timeout, pid=self.proc.pid):
            raise RuntimeError(f"chaos store on {self.port} did not become ready; see {self.data / 'store.log'}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def wait_port_free(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still answers after {timeout}s")
