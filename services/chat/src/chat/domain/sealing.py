"""Sealed deletions (docs/audit.md, "Sealed deletions"): when a message is deleted its text and
file ids are cleared, and MessageDeleted carries a seal of them instead — an HMAC-SHA256 under
chat's sealing key. The seal reveals nothing of the content; whoever holds the key and is shown a
claimed copy of the deleted message (a screenshot's text, a forwarded file's id) can tell whether it
is what was deleted. The key is a secret of chat's settings and is never logged."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from chat.domain.messages import Message

SEAL_VERSION = 1
MIN_KEY_BYTES = 32


def seal_input(chat_id: str, message_id: str, seq: int, sender: str, text: str, file_ids: list[str]) -> bytes:
    """The sealed bytes: UTF-8 JSON, keys sorted, no spaces, non-ASCII as is. The message's ids bind
    the seal to that one message (one text deleted twice in two places seals differently)."""
    body = {
        "v": SEAL_VERSION,
        "chat_id": chat_id,
        "message_id": message_id,
        "seq": seq,
        "sender_user_id": sender,
        "text": text,
        "file_ids": list(file_ids),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Seal:
    value: str  # lower-hex HMAC-SHA256
    key_id: str


class Sealer:
    """Seals a message's content as it was just before deletion."""

    def __init__(self, key: bytes, key_id: str):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the sealing key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.key_id = key_id

    def __repr__(self) -> str:  # never the key
        return f"Sealer(key_id={self.key_id!r})"

    def seal(self, message: Message) -> Seal:
        data = seal_input(
            message.chat_id, message.message_id, message.seq, message.sender_user_id, message.text, message.file_ids
        )
        return Seal(hmac.new(self._key, data, hashlib.sha256).hexdigest(), self.key_id)

    def matches(self, seal: str, message: Message) -> bool:
        """Does `message` (a claimed copy of the deleted one) carry the sealed content?"""
        return hmac.compare_digest(self.seal(message).value, seal)
