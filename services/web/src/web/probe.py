"""python -m web.probe HOST:PORT → exit 0 when the gateway's /healthz answers (the image's HEALTHCHECK)."""

from __future__ import annotations

import sys
import urllib.request


def main(argv: list[str]) -> int:
    address = argv[0] if argv else "127.0.0.1:8080"
    try:
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as reply:
            return 0 if reply.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
