"""pb <-> domain for the school API: the caller, paging, enum values; the aggregate → pb conversions
are school/codecs.py's, under the names the servicers use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import grpc
from parta.common.v1 import types_pb2
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal
from parta_common.pagination import decode_page_token, encode_page_token, page_size
from parta_common.timestamps import ts

__all__ = [
    "Page",
    "caller",
    "invite",
    "join_request",
    "membership",
    "policy",
    "retention",
    "school",
    "school_class",
    "ts",
]
from school import codecs
from school.app.common import Caller
from school.domain.validation import invalid

T = TypeVar("T")


def caller(context: grpc.aio.ServicerContext | None = None) -> Caller:
    """The caller; with `context`, also their bearer token (only for asking identity about themself)."""
    principal = require_principal()
    phone = principal.claims.get("phone_number", "")
    bearer = ""
    if context is not None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                bearer = value[len("Bearer ") :]
    return Caller(principal.user_id, phone if isinstance(phone, str) else "", bearer)


# The conversions themselves live once in school/codecs.py (the event adapter needs them too); the
# servicers know them by these names.
school = codecs.school_message
school_class = codecs.class_message
invite = codecs.invite_message
join_request = codecs.join_request_message
membership = codecs.membership_pb
policy = codecs.policy_pb
retention = codecs.retention_pb


class Page:
    """Keyset paging on document ids: the token holds the last id of the previous page."""

    def __init__(self, request: types_pb2.PageRequest, field: str = "page"):
        self.size = page_size(request.page_size, f"{field}.page_size")
        state = decode_page_token(request.page_token, f"{field}.page_token")
        after = state.get("after", "")
        # Tokens are ours: anything else in them (a number, an object, an overlong id) is bad input.
        if not isinstance(after, str) or len(after) > 128:
            raise InvalidArgument.field(f"{field}.page_token", "not a page token from this service")
        self.after = after
        self.limit = self.size + 1

    def cut(self, items: Sequence[T], key: Callable[[T], str]) -> tuple[list[T], types_pb2.PageInfo]:
        page = list(items[: self.size])
        token = encode_page_token({"after": key(page[-1])}) if len(items) > self.size and page else ""
        return page, types_pb2.PageInfo(next_page_token=token)


Ctx: TypeAlias = grpc.aio.ServicerContext


def enum_value(enum: Any, value: int, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise invalid(field, "unknown value") from None
