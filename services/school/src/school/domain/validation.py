"""Checks of free text, ids and request ids (the kit's, parta_common.validation), and the ids school
derives (pure Python)."""

from __future__ import annotations

import uuid

from parta_common.errors import InvalidArgument
from parta_common.ids import IdNamespace
from parta_common.validation import check_id as check_id
from parta_common.validation import check_request_id as check_request_id
from parta_common.validation import check_text as check_text
from parta_common.validation import has_control_chars as has_control_chars

# Limits on free text; protobuf already rejects invalid UTF-8.
MAX_REQUEST_ID = 128
MAX_ID = 64


def invalid(name: str, description: str) -> InvalidArgument:
    return InvalidArgument.field(name, description)


# School's derived ids (parta_common.ids.IdNamespace): from a client's request id (idempotent
# creates) or from a parent id.
derived_id = IdNamespace(uuid.UUID("2b7c8a4e-5f0e-4c1e-9d8f-1c0a7a6b5e21")).derive
