"""`python -m tests.faults.chat_replica`: chat exactly as `python -m chat` runs it (same build, same
runner, same SIGTERM drain), except that access tokens are verified against a test key pair read from
$PARTA_TEST_KEYS_FILE instead of identity's signing keys, so a fault test needs no identity process.
The file holds {"kid", "public_key" (base64 raw Ed25519), "issuer", "audience"} (see write_keys)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path

from chat.bootstrap import SERVICE, build
from chat.config import ChatSettings
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from parta_common.auth import PublicKey, StaticKeySource
from parta_common.logging import configure_logging
from parta_common.testing.fakes import TokenMint


def write_keys(mint: TokenMint, path: Path) -> Path:
    raw = mint.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    path.write_text(
        json.dumps(
            {
                "kid": mint.key_id,
                "public_key": base64.b64encode(raw).decode(),
                "issuer": mint.issuer,
                "audience": mint.audience,
            }
        )
    )
    return path


def _key_source(path: str) -> StaticKeySource:
    data = json.loads(Path(path).read_text())
    key = PublicKey(data["kid"], Ed25519PublicKey.from_public_bytes(base64.b64decode(data["public_key"])))
    return StaticKeySource([key])


async def _serve(settings: ChatSettings) -> None:
    service = await build(settings, key_source=_key_source(os.environ["PARTA_TEST_KEYS_FILE"]))
    await service.runner.serve_until_signal()


def main() -> None:
    settings = ChatSettings()  # type: ignore[call-arg]
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
