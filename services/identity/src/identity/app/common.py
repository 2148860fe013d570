"""Helpers shared by identity's use cases. Ids, request ids, retries and derived ids are the kit's
(parta_common.validation, .retries, .ids); identity asks ids it minted to be UUIDs (`uuid=True`)."""

from __future__ import annotations

import unicodedata

from parta_common.errors import InvalidArgument, NotFound
from parta_common.validation import has_control_chars

from identity.app.ports import UserRepository
from identity.domain.users import User


def check_label(value: str, field: str, max_length: int, default: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        return default
    if len(text) > max_length:
        raise InvalidArgument.field(field, f"must be at most {max_length} characters")
    if has_control_chars(text):
        raise InvalidArgument.field(field, "must not contain control characters")
    return text


def user_not_found() -> NotFound:
    return NotFound("user not found", reason="USER_NOT_FOUND")


async def live_user(users: UserRepository, user_id: str) -> User:
    """The user, or USER_NOT_FOUND for an unknown or deleted account."""
    user = await users.get(user_id)
    if user is None or user.deleted:
        raise user_not_found()
    return user
