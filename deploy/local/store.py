#!/usr/bin/env python3
"""Local/CI document store: install, start, probe and stop a MongoDB-wire server.

Stdlib only (Python 3.11). Used by the repo's local infra manager and by hand:

    python deploy/local/store.py install          # idempotent
    python deploy/local/store.py start [--port N] # detached; prints the URI
    python deploy/local/store.py status [--port N]
    python deploy/local/store.py stop

Which server (first match wins), see docs/store.md for why:

1. env ``MONGODB_URI`` set        -> use it; install/start/stop do nothing.
2. env ``PARTA_STORE_ENGINE`` set -> that engine: ``secantus-mdb``, ``secantusdb`` or ``mongod``.
3. ``mongod`` on PATH             -> real MongoDB, ``--bind_ip 127.0.0.1 --port N --dbpath ...``.
4. otherwise                      -> DEFAULT_ENGINE, secantus-mdb (see its comment).

``secantus-mdb`` is the Rust daemon 0.5.3-beta.196 (crates.io, pinned), built once with
``cargo install`` into ``<cache>/secantus-mdb-<version>/bin/secantusd-rs``:
the default local/CI/bench store; SecantusDB is the second engine the conformance suite runs
against in ``make test``.
``secantusdb`` is SecantusDB 0.7.0b3 (PyPI, pinned) in its own venv ``<cache>/store/venv`` (never
the repo's venv).

Layout under the cache dir (default ``<repo>/.cache``)::

    secantus-mdb-<version>/bin/secantusd-rs   the Rust daemon (build scratch removed)
    store/venv/            SecantusDB venv (marker file store/venv/.parta-store)
    data/store/<engine>/   data files (engine = secantus-mdb | secantus | mongod)
    logs/<name>.log        server stdout/stderr (appended; name = store by default)
    run/<name>.pid         PID of the server started by start()
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache"
DEFAULT_PORT = 27017
HOST = "127.0.0.1"

SECANTUS_VERSION = "0.7.0b3"
# Pinned: the exact set the conformance suite and benchmark were run with.
# SecantusDB 0.7.0b3 ships cp311-only manylinux wheels (WiredTiger bundled).
SECANTUS_REQUIREMENTS = (
    f"secantusdb=={SECANTUS_VERSION}",
    "pymongo==4.20.1",
    "numpy==2.4.6",
    "shapely==2.2.0",
    "s2sphere==0.2.5",
    "python-dateutil==4.0.0",
)
_MARKER = ".parta-store"

# The Rust daemon. The crate asks for Rust 1.98; it builds with 1.95 and passes the conformance
# suite, hence --ignore-rust-version; --locked keeps the dependency set the suite was run with.
SECANTUS_MDB_VERSION = "0.5.3-beta.196"
SECANTUS_MDB_BINARY = "secantusd-rs"
# 256 MB of WiredTiger cache and 16 MB log files keep a fresh data directory at 17 MB (the
# defaults, 4 GB and 128 MB, preallocate 128 MB per store); --sync-on-commit keeps the last
# acknowledged write over a kill -9, which neither SecantusDB server does without it.
SECANTUS_MDB_FLAGS = ("--cache-size", "256M", "--log-file-max", "16MB", "--sync-on-commit")

ENGINES = ("secantus-mdb", "secantusdb", "mongod")
# The engine when nothing else is chosen (issue 18): the Rust daemon. Its 0.5.3-beta.196 never frees
# a unique-index key a document was inserted with; the services write such keys by update
# (parta_common.mongo.insert_claiming_keys), which it frees, so they do not depend on the bug
# (docs/store.md). SecantusDB stays the second engine of `make test`'s conformance run.
DEFAULT_ENGINE = "secantus-mdb"
BENCH_ENGINE = "secantus-mdb"


# --- selection -----------------------------------------------------------------


def external_uri() -> str | None:
    """The URI from env MONGODB_URI, or None. When set, nothing is installed or started."""
    uri = os.environ.get("MONGODB_URI", "").strip()
    return uri or None


def mongod_path() -> str | None:
    """A real mongod on PATH, preferred over SecantusDB when present."""
    return shutil.which("mongod")


def engine() -> str:
    """'external', or one of ENGINES: the setting PARTA_STORE_ENGINE, else mongod on PATH, else DEFAULT_ENGINE."""
    if external_uri():
        return "external"
    chosen = os.environ.get("PARTA_STORE_ENGINE", "").strip()
    if chosen:
        if chosen not in ENGINES:
            raise SystemExit(f"PARTA_STORE_ENGINE={chosen!r}: expected one of {', '.join(ENGINES)}")
        return chosen
    if mongod_path():
        return "mongod"
    return DEFAULT_ENGINE


def uri(port: int = DEFAULT_PORT) -> str:
    """The URI clients should use: MONGODB_URI if set, else the local server's."""
    return external_uri() or f"mongodb://{HOST}:{port}/"


# --- paths ---------------------------------------------------------------------


def _venv_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "store" / "venv"


def _venv_bin(cache_dir: Path, name: str) -> Path:
    return _venv_dir(cache_dir) / "bin" / name


def _pid_file(cache_dir: Path, name: str = "store") -> Path:
    return Path(cache_dir) / "run" / f"{name}.pid"


def _log_file(cache_dir: Path, name: str = "store") -> Path:
    return Path(cache_dir) / "logs" / f"{name}.log"


def _data_dir(cache_dir: Path, eng: str, name: str = "store") -> Path:
    # "secantus" is the directory SecantusDB has always used; existing data stays where it was.
    folder = "secantus" if eng == "secantusdb" else eng
    return Path(cache_dir) / "data" / name / folder


def _mdb_root(cache_dir: Path) -> Path:
    return Path(cache_dir) / f"secantus-mdb-{SECANTUS_MDB_VERSION}"


def _mdb_binary(cache_dir: Path) -> Path:
    return _mdb_root(cache_dir) / "bin" / SECANTUS_MDB_BINARY


def _log(msg: str) -> None:
    print(f"[store] {msg}", file=sys.stderr, flush=True)


# --- install -------------------------------------------------------------------


def _installed(cache_dir: Path) -> bool:
    marker = _venv_dir(cache_dir) / _MARKER
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (
        recorded.get("requirements") == list(SECANTUS_REQUIREMENTS)
        and _venv_bin(cache_dir, "secantusd-py").exists()
        and _venv_bin(cache_dir, "python").exists()
    )


def _base_python() -> str:
    """A Python 3.11 interpreter to build the store venv from (wheels are cp311 only)."""
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), shutil.which("python3.11") or ""]
    for exe in candidates:
        if not exe:
            continue
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out == "3.11":
            return exe
    raise RuntimeError("SecantusDB 0.7.0b3 needs a Python 3.11 interpreter (cp311 wheels only); none found")


def _mdb_installed(cache_dir: Path) -> bool:
    exe = _mdb_binary(cache_dir)
    if not exe.exists():
        return False
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return out.split("\n", 1)[0].strip() == f"{SECANTUS_MDB_BINARY} {SECANTUS_MDB_VERSION}"


def install_secantus_mdb(cache_dir: Path) -> None:
    """Build the pinned Rust daemon once into ``cache_dir/secantus-mdb-<version>/bin``.

    No prebuilt binary is published, so this compiles it: about 250 s on 2 cores from an empty
    cargo home, needing cargo, CMake and a C compiler (WiredTiger is bundled). The cargo home and
    target directory (~830 MB) are scratch under the cache and removed afterwards; only the 22 MB
    binary stays. Skips when the binary of the pinned version is present.
    """
    cache_dir = Path(cache_dir)
    if _mdb_installed(cache_dir):
        return
    # One build at a time per cache: worktrees share PARTA_CACHE, and a second build would delete
    # the first one's scratch directory under it (seen: `Directory not empty: 'deps'`).
    lock_path = cache_dir / "store" / "install.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"waiting for another secantus-mdb build to finish (holding {lock_path})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not _mdb_installed(cache_dir):
            _build_secantus_mdb(cache_dir)


def _build_secantus_mdb(cache_dir: Path) -> None:
    cargo = shutil.which("cargo")
    if not cargo:
        raise SystemExit(
            "secantus-mdb needs a Rust toolchain (cargo), CMake and gcc to build; install them, "
            "or set PARTA_STORE_ENGINE=secantusdb for the pip-installed Python server (docs/store.md)"
        )
    scratch = cache_dir / "store" / "cargo-scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    _log(f"building secantus-mdb {SECANTUS_MDB_VERSION} with cargo (about 4 min on 2 cores, once)")
    env = {**os.environ, "CARGO_HOME": str(scratch / "home"), "CARGO_TARGET_DIR": str(scratch / "target")}
    try:
        subprocess.run(
            [
                cargo,
                "install",
                "secantus-mdb",
                "--version",
                SECANTUS_MDB_VERSION,
                "--locked",
                "--ignore-rust-version",
                "--root",
                str(_mdb_root(cache_dir)),
            ],
            check=True,
            env=env,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not _mdb_installed(cache_dir):
        raise SystemExit(f"cargo install did not produce {_mdb_binary(cache_dir)} {SECANTUS_MDB_VERSION}")
    _log("install: secantus-mdb built")


def install(cache_dir: Path, eng: str | None = None) -> None:
    """Idempotently install the local store engine (default: the one engine() picks).

    Nothing to do for MONGODB_URI or a real mongod. secantus-mdb is built by
    install_secantus_mdb(); secantusdb gets the dedicated venv ``cache_dir/store/venv`` with the
    pinned SecantusDB (about 10 s and 145 MB on a fresh machine). Skips what is installed.
    """
    cache_dir = Path(cache_dir)
    eng = eng or engine()
    if eng == "secantus-mdb":
        install_secantus_mdb(cache_dir)
        return
    if eng != "secantusdb":
        _log(f"install: nothing to do (using {eng})")
        return
    if _installed(cache_dir):
        return
    venv = _venv_dir(cache_dir)
    _log(f"installing secantusdb=={SECANTUS_VERSION} into {venv}")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
    py = str(_venv_bin(cache_dir, "python"))
    subprocess.run(
        [
            py,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--only-binary",
            "secantusdb",
            *SECANTUS_REQUIREMENTS,
        ],
        check=True,
    )
    (venv / _MARKER).write_text(json.dumps({"requirements": list(SECANTUS_REQUIREMENTS)}) + "\n")
    _log("install: done")


# --- process control -----------------------------------------------------------


def _read_pid(cache_dir: Path, name: str = "store") -> int | None:
    try:
        return int(_pid_file(cache_dir, name).read_text().strip())
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int) -> bool:
    """True if pid is alive and is a store server (guards against a reused PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (non-Linux): trust the pid file
    return b"secantusd-py" in cmdline or b"secantusd-rs" in cmdline or b"mongod" in cmdline


def _empty_config(cache_dir: Path, file_name: str) -> Path:
    # An explicit (empty) config file disables the servers' auto-discovery of
    # ./secantusd.toml, ~/.secantus/secantusd.toml and /etc/secantus/.
    config = Path(cache_dir) / "store" / file_name
    config.parent.mkdir(parents=True, exist_ok=True)
    if not config.exists():
        config.write_text("# Parta local store: all settings are passed as flags by deploy/local/store.py\n")
    return config


def _server_command(cache_dir: Path, port: int, eng: str, name: str = "store") -> list[str]:
    data = _data_dir(cache_dir, eng, name)
    data.mkdir(parents=True, exist_ok=True)
    if eng == "mongod":
        return [mongod_path() or "mongod", "--bind_ip", HOST, "--port", str(port), "--dbpath", str(data)]
    if eng == "secantus-mdb":
        exe = _mdb_binary(cache_dir)
        if not exe.exists():
            raise RuntimeError(f"secantus-mdb is not built in {_mdb_root(cache_dir)}: run install() first")
        return [
            str(exe),
            "--config",
            str(_empty_config(cache_dir, "secantusd-rs.toml")),
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            str(data),
            *SECANTUS_MDB_FLAGS,
        ]
    exe = _venv_bin(cache_dir, "secantusd-py")
    if not exe.exists():
        raise RuntimeError(f"SecantusDB is not installed in {_venv_dir(cache_dir)}: run install() first")
    return [
        str(exe),
        "--config",
        str(_empty_config(cache_dir, "secantusd.toml")),
        "--host",
        HOST,
        "--port",
        str(port),
        "--storage-path",
        str(data),
        "--log-level",
        "INFO",
    ]


def start(cache_dir: Path, port: int, eng: str | None = None, name: str = "store") -> int:
    """Start the store detached on 127.0.0.1:port and return its PID.

    Data lives in ``cache_dir/data/<name>/<engine>/``, output goes to
    ``cache_dir/logs/<name>.log``, the PID to ``cache_dir/run/<name>.pid`` (a second engine
    for the conformance suite runs under another name and port). Returns the running
    server's PID if the one from the PID file is still alive. Does not wait for
    readiness: poll ready(port) (or use wait_ready). Returns 0 and starts nothing when
    MONGODB_URI is set. Raises RuntimeError if something else already answers on port.
    """
    cache_dir = Path(cache_dir)
    eng = eng or engine()
    if eng == "external":
        _log("start: MONGODB_URI is set, not starting a local server")
        return 0
    pid = _read_pid(cache_dir, name)
    if pid and _is_our_server(pid):
        return pid
    if ready(port):
        raise RuntimeError(f"port {port} already has a MongoDB-wire server not started by {_pid_file(cache_dir, name)}")
    cmd = _server_command(cache_dir, port, eng, name)
    log = _log_file(cache_dir, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(cache_dir, name).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {eng}: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(cache_dir),
            close_fds=True,
        )
    _pid_file(cache_dir, name).write_text(f"{proc.pid}\n")
    return proc.pid


def wait_ready(port: int, timeout: float = 60.0, pid: int | None = None) -> bool:
    """Poll ready(port) until it answers or timeout; False early if pid died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(port):
            return True
        if pid:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    return False
            except ChildProcessError:
                if not _is_our_server(pid):
                    return False
        time.sleep(0.2)
    return False


def stop(cache_dir: Path, timeout: float = 15.0, name: str = "store") -> bool:
    """Stop the server recorded in ``cache_dir/run/<name>.pid``; True if one was stopped."""
    cache_dir = Path(cache_dir)
    pid_file = _pid_file(cache_dir, name)
    pid = _read_pid(cache_dir, name)
    if not pid or not _is_our_server(pid):
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            pass
        if not _is_our_server(pid) or _is_zombie(pid):
            break
        time.sleep(0.1)
    else:
        _log(f"stop: pid {pid} ignored SIGTERM for {timeout:.0f}s, sending SIGKILL")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pid_file.unlink(missing_ok=True)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


# --- readiness: a raw OP_MSG ping ------------------------------------------------


def _bson_ping() -> bytes:
    def cstr(s: str) -> bytes:
        return s.encode() + b"\0"

    body = (
        b"\x10"
        + cstr("ping")
        + struct.pack("<i", 1)
        + b"\x02"
        + cstr("$db")
        + struct.pack("<i", len("admin") + 1)
        + cstr("admin")
    )
    return struct.pack("<i", len(body) + 5) + body + b"\0"


def _bson_ok(doc: bytes) -> bool:
    """Whether the top-level field 'ok' of a BSON document is 1."""
    fixed = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16, 0x7F: 0, 0xFF: 0}
    end = struct.unpack_from("<i", doc)[0] - 1
    i = 4
    while i < end:
        etype = doc[i]
        nul = doc.index(b"\0", i + 1)
        name = doc[i + 1 : nul]
        i = nul + 1
        if name == b"ok":
            if etype == 0x01:
                return struct.unpack_from("<d", doc, i)[0] == 1.0
            if etype == 0x10:
                return struct.unpack_from("<i", doc, i)[0] == 1
            if etype == 0x12:
                return struct.unpack_from("<q", doc, i)[0] == 1
            if etype == 0x08:
                return doc[i] == 1
            return False
        if etype in fixed:
            i += fixed[etype]
        elif etype in (0x02, 0x0D, 0x0E):  # string, js code, symbol
            i += 4 + struct.unpack_from("<i", doc, i)[0]
        elif etype in (0x03, 0x04, 0x0F):  # document, array, code w/ scope
            i += struct.unpack_from("<i", doc, i)[0]
        elif etype == 0x05:  # binary
            i += 5 + struct.unpack_from("<i", doc, i)[0]
        elif etype == 0x0B:  # regex: two cstrings
            i = doc.index(b"\0", doc.index(b"\0", i) + 1) + 1
        elif etype == 0x0C:  # DBPointer
            i += 4 + struct.unpack_from("<i", doc, i)[0] + 12
        else:
            return False
    return False


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def ready(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True if a MongoDB-wire server on host:port answers {ping: 1} with ok: 1 (OP_MSG)."""
    doc = _bson_ping()
    payload = struct.pack("<I", 0) + b"\x00" + doc  # flagBits, section kind 0, body
    request_id = os.getpid() & 0x7FFFFFFF
    msg = struct.pack("<iiii", 16 + len(payload), request_id, 0, 2013) + payload
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(msg)
            length, _, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
            if opcode != 2013 or response_to != request_id or not 21 <= length <= 48 * 1024 * 1024:
                return False
            body = _recv_exact(sock, length - 16)
    except (OSError, ValueError, struct.error):
        return False
    if body[4] != 0:  # first section must be the body (kind 0)
        return False
    try:
        return _bson_ok(body[5:])
    except (ValueError, IndexError, struct.error):
        return False


# --- CLI -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="store.py", description="Local MongoDB-wire store for Parta dev/CI.")
    ap.add_argument("command", choices=["install", "start", "stop", "status", "uri"])
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("PARTA_CACHE_DIR") or os.environ.get("PARTA_CACHE") or DEFAULT_CACHE_DIR),
    )
    ap.add_argument("--port", type=int, default=int(os.environ.get("PARTA_STORE_PORT", DEFAULT_PORT)))
    ap.add_argument("--timeout", type=float, default=60.0, help="start: seconds to wait for readiness")
    ap.add_argument("--engine", choices=ENGINES, help="override PARTA_STORE_ENGINE / the automatic pick")
    ap.add_argument("--name", default="store", help="instance name for the pid/log/data paths (a second engine)")
    args = ap.parse_args(argv)
    cache_dir = args.cache_dir.resolve()
    if args.engine:
        os.environ["PARTA_STORE_ENGINE"] = args.engine

    if args.command == "install":
        install(cache_dir)
        return 0
    if args.command == "uri":
        print(uri(args.port))
        return 0
    if args.command == "status":
        target = external_uri() or f"{HOST}:{args.port}"
        if external_uri():
            print(f"external: {target}")
            return 0
        ok = ready(args.port)
        state = "ready" if ok else "not answering"
        print(f"{engine()} on {target}: {state} (pid file: {_read_pid(cache_dir, args.name)})")
        return 0 if ok else 1
    if args.command == "start":
        install(cache_dir)
        pid = start(cache_dir, args.port, name=args.name)
        if pid == 0:
            print(uri(args.port))
            return 0
        if not wait_ready(args.port, args.timeout, pid):
            _log(f"server (pid {pid}) not ready after {args.timeout:.0f}s; see {_log_file(cache_dir, args.name)}")
            return 1
        _log(f"{engine()} ready on {HOST}:{args.port} (pid {pid})")
        print(uri(args.port))
        return 0
    if args.command == "stop":
        if external_uri():
            _log("stop: MONGODB_URI is set, nothing to stop")
            return 0
        _log("stopped" if stop(cache_dir, name=args.name) else "stop: no running server recorded")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
