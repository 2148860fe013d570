"""pb <-> domain for the school API; the only place that knows both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeAlias, TypeVar

import grpc
from parta.common.v1 import types_pb2
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal
from parta_common.pagination import decode_page_token, encode_page_token, page_size
from parta_common.safety import SchoolPolicy
from parta_common.timestamps import ts

from school.codecs import membership_pb

__all__ = ["Page", "caller", "invite", "join_request", "membership", "policy", "school", "school_class", "ts"]
from school.app.common import Caller
from school.domain.classes import SchoolClass
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest
from school.domain.schools import School
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


def school(s: School) -> pb.School:
    return pb.School(
        school_id=s.id,
        name=s.name,
        short_name=s.short_name,
        region=s.region,
        address=s.address,
        timezone=s.timezone,
        academic_year=s.academic_year,
        staff_room_class_id=s.staff_room_class_id,
        workday_start_minute=s.workday_start_minute,
        workday_end_minute=s.workday_end_minute,
        created_at=ts(s.created_at),
        admin_vacant=s.admin_vacant,
        admin_vacant_since=ts(s.admin_vacant_since) if s.admin_vacant_since else None,
    )


def policy(p: SchoolPolicy) -> ev.CommunicationPolicy:
    """Every switch set, so a reader sees the whole policy (unset would mean "the default")."""
    return ev.CommunicationPolicy(**asdict(p))


def school_class(c: SchoolClass) -> pb.SchoolClass:
    return pb.SchoolClass(
        class_id=c.id,
        school_id=c.school_id,
        grade=c.grade,
        letter=c.letter,
        title=c.title,
        academic_year=c.academic_year,
        is_staff_room=c.is_staff_room,
        archived=c.archived,
    )


def invite(i: Invite) -> pb.Invite:
    return pb.Invite(
        invite_id=i.id,
        school_id=i.school_id,
        class_id=i.class_id,
        role=int(i.role),  # type: ignore[arg-type]
        child_user_id=i.child_user_id,
        expires_at=ts(i.expires_at),
        max_uses=i.max_uses,
        uses=i.uses,
        requires_approval=i.requires_approval,
        revoked=i.revoked,
        created_by_user_id=i.created_by,
    )


def join_request(r: JoinRequest) -> pb.JoinRequest:
    return pb.JoinRequest(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        role=int(r.role),  # type: ignore[arg-type]
        child_user_id=r.child_user_id,
        state=int(r.state),  # type: ignore[arg-type]
        decided_by_user_id=r.decided_by,
        created_at=ts(r.created_at),
    )


membership = membership_pb


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
