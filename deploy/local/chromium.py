"""Makes sure the system Chromium the browser tests drive is installed: Debian's `chromium` package
(and a colour emoji font, for reactions in screenshots), through apt-get, non-interactively, when
/usr/bin/chromium or the font is missing. Called by the browser tests'
setup (tests/web/conftest.py), never by hand; Playwright downloads no browser of its own.

    python deploy/local/chromium.py        # prints the executable's path
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
PACKAGES = ["chromium", "fonts-dejavu-core", "fonts-noto-color-emoji"]
LOCK = Path(__file__).resolve().parents[2] / ".cache" / "chromium-install.lock"


def ensure_chromium() -> Path:
    """The path of the system Chromium, installed first if it is missing (one installer at a time)."""
    if CHROMIUM.exists() and EMOJI_FONT.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"{CHROMIUM} is missing and this machine has no apt-get: install Chromium")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs wait for one install
        if not (CHROMIUM.exists() and EMOJI_FONT.exists()):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
            subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
            subprocess.run(
                [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


if __name__ == "__main__":
    print(ensure_chromium())
    sys.exit(0)
