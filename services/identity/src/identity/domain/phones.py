"""Phone numbers: parsed and normalised to E.164 with libphonenumber's rules (never by regex)."""

from __future__ import annotations

import phonenumbers
from parta_common.errors import InvalidArgument

# Numbers written without "+" are read as Russian ones, the product's home market.
DEFAULT_REGION = "RU"
MAX_RAW_LENGTH = 32


def normalize_phone(raw: str, field: str = "phone") -> str:
    """Returns the E.164 form, or raises InvalidArgument with a field violation."""
    text = raw.strip()
    if not text:
        raise InvalidArgument.field(field, "must not be empty")
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_RAW_LENGTH} characters")
    if any(not (ch.isascii() and (ch.isdigit() or ch in "+-() .")) for ch in text):
        raise InvalidArgument.field(field, "may contain only digits, spaces and + - ( ) .")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidArgument.field(field, "is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument.field(field, "is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
