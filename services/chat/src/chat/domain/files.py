"""Files uploaded to chats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    owner_user_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    uploaded_at: datetime
    chat_ids: tuple[str, ...] = ()
