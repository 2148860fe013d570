"""A signed-in session kept per CLI profile in $PARTA_HOME/profiles/<name>.json, readable by its owner only."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Session:
    user_id: str
    phone: str
    access_token: str
    refresh_token: str
    # Unix seconds; 0 when unknown (then only the server's UNAUTHENTICATED triggers a refresh).
    access_expires_at: float = 0.0
    session_id: str = ""
    # The school commands act on when no --school is given.
    school_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        if not self.access_expires_at:
            return False
        current = datetime.now(UTC).timestamp() if now is None else now
        return self.access_expires_at - current <= seconds


class SessionStore:
    """Reads and writes one profile's session file atomically with 0600 permissions.

    The file holds a refresh token (a long-lived credential), so it is created private from the start
    (never chmod-ed after being written readable) and the directory is 0700.
    """

    def __init__(self, home: Path, profile: str = "default"):
        if not PROFILE_NAME.match(profile):
            raise ValueError("profile names are 1-64 letters, digits, '.', '_' or '-'")
        self.home = home
        self.profile = profile

    @property
    def path(self) -> Path:
        return self.home / "profiles" / f"{self.profile}.json"

    def load(self) -> Session | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a damaged file is as good as no session: the user signs in again
        known = {k: data[k] for k in Session.__dataclass_fields__ if k in data}
        try:
            return Session(**known)
        except TypeError:
            return None

    def save(self, session: Session) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.home, 0o700)
        os.chmod(directory, 0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.profile}.", suffix=".tmp")  # 0600 by mkstemp
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(session), handle, ensure_ascii=False, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

    def profiles(self) -> list[str]:
        folder = self.home / "profiles"
        return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []
