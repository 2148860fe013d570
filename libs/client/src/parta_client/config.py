"""Where the services are and where the CLI keeps its sessions, from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The ports `make run` (deploy/local/stack.py) gives the services on loopback.
DEFAULTS = {
    "identity": "127.0.0.1:25051",
    "school": "127.0.0.1:25052",
    "chat": "127.0.0.1:25053",
    "media_signal": "127.0.0.1:25054",
    "audit": "127.0.0.1:25058",
}


@dataclass(frozen=True)
class Endpoints:
    identity: str = DEFAULTS["identity"]
    school: str = DEFAULTS["school"]
    chat: str = DEFAULTS["chat"]
    media_signal: str = DEFAULTS["media_signal"]
    audit: str = DEFAULTS["audit"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Endpoints:
        """PARTA_IDENTITY_ADDR, PARTA_SCHOOL_ADDR, PARTA_CHAT_ADDR, PARTA_MEDIA_SIGNAL_ADDR,
        PARTA_AUDIT_ADDR (host:port).."""
        env = os.environ if env is None else env
        return cls(**{name: env.get(f"PARTA_{name.upper()}_ADDR") or default for name, default in DEFAULTS.items()})


def parta_home(env: Mapping[str, str] | None = None) -> Path:
    """$PARTA_HOME, else $XDG_CONFIG_HOME/parta, else ~/.config/parta."""
    env = os.environ if env is None else env
    if env.get("PARTA_HOME"):
        return Path(env["PARTA_HOME"]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]).expanduser() if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "parta"
