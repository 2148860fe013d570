"""Janus (VideoRoom SFU) and coturn (TURN) for the local stack and tests, from the system's packages.

    python deploy/local/media.py up|down|env

`deploy/local/infra.py` imports COMPONENTS (janus, coturn) and starts them with Kafka and the store.
Both listen on 127.0.0.1 only. Configuration lives in deploy/local/media/; the rendered copies (with
ports and the TURN secret) go to .cache/run/, the secret file readable by its owner only.

The TURN shared secret comes from PARTA_TURN_SECRET; when unset, a random one is made once per
machine and kept in .cache/run/turn.secret, so tests and `make run` read the same value and no
secret is ever written in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = Path(os.environ.get("PARTA_CACHE", ROOT / ".cache"))
RUN = CACHE / "run"

JANUS_PORT = int(os.environ.get("PARTA_JANUS_PORT", "8088"))
TURN_PORT = int(os.environ.get("PARTA_TURN_PORT", "3478"))
TURN_REALM = "parta.local"
JANUS_PLUGINS = "/usr/lib/x86_64-linux-gnu/janus"


def say(message: str) -> None:
    print(f"[media] {message}", file=sys.stderr, flush=True)


def janus_url() -> str:
    return f"http://127.0.0.1:{JANUS_PORT}/janus"


def turn_uri() -> str:
    return f"turn:127.0.0.1:{TURN_PORT}?transport=udp"


def turn_secret() -> str:
    """The coturn shared secret: PARTA_TURN_SECRET, or a per-machine random one kept in .cache/run."""
    explicit = os.environ.get("PARTA_TURN_SECRET")
    if explicit:
        return explicit
    path = RUN / "turn.secret"
    if not path.exists():
        RUN.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def env() -> dict[str, str]:
    """What media-signal (and the tests) need to reach the media servers."""
    return {"janus_url": janus_url(), "turn_uri": turn_uri(), "turn_secret": turn_secret()}


def apt_install(binary: str, package: str) -> None:
    if shutil.which(binary):
        return
    say(f"{binary} missing: installing the Debian package {package}")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt_env)
    # coturn's package would start a system service; policy-rc.d-less containers do not, and we
    # never rely on it: our own process with our own configuration is started below.
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", package], check=True, env=apt_env)
    if not shutil.which(binary):
        raise SystemExit(f"{package} installed but {binary} not found")


def janus_ready() -> bool:
    try:
        with urllib.request.urlopen(f"{janus_url()}/info", timeout=1) as reply:  # noqa: S310  (our http URL)
            info = json.loads(reply.read())
        return "janus.plugin.videoroom" in info.get("plugins", {})
    except (OSError, ValueError):
        return False


def udp_turn_ready() -> bool:
    """A STUN Binding request to coturn answers with a Binding success."""
    request = bytes.fromhex("0001 0000 2112a442".replace(" ", "")) + secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.sendto(request, ("127.0.0.1", TURN_PORT))
            data, _ = sock.recvfrom(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01" and data[8:20] == request[8:20]


def render_janus() -> Path:
    """Copies the repo's Janus configuration to .cache/run/janus, with the chosen HTTP port."""
    target = RUN / "janus"
    target.mkdir(parents=True, exist_ok=True)
    for source in (HERE / "media" / "janus").glob("*.jcfg"):
        text = source.read_text()
        if source.name == "janus.transport.http.jcfg":
            text = text.replace("port = 8088", f"port = {JANUS_PORT}")
        (target / source.name).write_text(text)
    return target


def render_coturn() -> Path:
    template = (HERE / "media" / "coturn" / "turnserver.conf").read_text()
    text = template.format(port=TURN_PORT, realm=TURN_REALM, secret=turn_secret())
    RUN.mkdir(parents=True, exist_ok=True)
    path = RUN / "turnserver.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


@dataclass(frozen=True)
class Janus:
    name: str = "janus"

    def up(self) -> bool:
        import infra  # lazily: infra imports this module

        if janus_ready():
            return False
        apt_install("janus", "janus")
        folder = render_janus()
        infra.spawn(self.name, ["janus", "-C", str(folder / "janus.jcfg"), "-F", str(folder)])
        _wait(self.name, janus_ready, 30)
        say(f"janus ready at {janus_url()}")
        return True


@dataclass(frozen=True)
class Coturn:
    name: str = "coturn"

    def up(self) -> bool:
        import infra

        if udp_turn_ready():
            return False
        apt_install("turnserver", "coturn")
        config = render_coturn()
        infra.spawn(self.name, ["turnserver", "-c", str(config)])
        _wait(self.name, udp_turn_ready, 20)
        say(f"coturn ready at {turn_uri()}")
        return True


def _wait(name: str, check: object, timeout: float) -> None:
    import infra

    infra.wait_for(name, check, timeout, name)  # type: ignore[arg-type]


COMPONENTS: dict[str, Janus | Coturn] = {"janus": Janus(), "coturn": Coturn()}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    import infra

    command = argv[0] if argv else "env"
    if command == "up":
        for component in COMPONENTS.values():
            component.up()
        print(json.dumps({k: v for k, v in env().items() if k != "turn_secret"}))
    elif command == "down":
        for name in COMPONENTS:
            infra.stop_pid(name)
    else:
        print(json.dumps(env()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
