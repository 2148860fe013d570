"""Runs buf (proto lint / breaking checks), installed from the npm registry into .cache/buf on first use.

python deploy/local/buf.py lint
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".cache" / "buf"
VERSION = "1.75.0"
BIN = PREFIX / "node_modules" / ".bin" / "buf"


def ensure_buf() -> Path:
    if not BIN.exists():
        PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PREFIX),
                f"@bufbuild/buf@{VERSION}",
            ],
            check=True,
        )
    return BIN


def main(argv: list[str]) -> int:
    buf = ensure_buf()
    return subprocess.call([str(buf), *(argv or ["lint"])], cwd=ROOT / "proto")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
