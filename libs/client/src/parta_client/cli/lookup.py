"""Finding schools, classes, people and chats by what a person types (an id, a name, a title)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta.common.v1 import types_pb2
from parta.identity.v1 import profiles_pb2
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli
from parta_client.client import Parta
from parta_client.resolve import Candidate, UsageError, pick

ROLES = {
    "admin": school_events.SCHOOL_ROLE_ADMIN,
    "teacher": school_events.SCHOOL_ROLE_TEACHER,
    "student": school_events.SCHOOL_ROLE_STUDENT,
    "parent": school_events.SCHOOL_ROLE_PARENT,
}
ROLE_NAMES: dict[int, str] = {int(v): k for k, v in ROLES.items()}
CLASS_ROLE_NAMES = {
    school_events.CLASS_ROLE_CLASS_HEAD: "class head",
    school_events.CLASS_ROLE_SUBJECT_TEACHER: "subject teacher",
    school_events.CLASS_ROLE_STUDENT: "student",
    school_events.CLASS_ROLE_PARENT: "parent",
    school_events.CLASS_ROLE_STAFF: "staff",
}


# Words that name a chat by its kind ("parta send school 'Hello'").
CHAT_ALIASES = {
    "school": chat_events.CHAT_KIND_SCHOOL_CHANNEL,
    "channel": chat_events.CHAT_KIND_SCHOOL_CHANNEL,
    "staff": chat_events.CHAT_KIND_STAFF_CHANNEL,
}


async def current_school(cli: Cli, parta: Parta) -> str:
    """--school, else the profile's chosen school, else the only school the person belongs to."""
    if cli.school:
        return await school_by_ref(parta, cli.school)
    session = parta.require_session()
    if session.school_id:
        return session.school_id
    mine = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
    if len(mine.schools) == 1:
        session.school_id = mine.schools[0].school.school_id
        parta.save_session()
        return session.school_id
    if not mine.schools:
        raise UsageError("you belong to no school yet (accept an invite, or sign in with the admin phone)")
    names = ", ".join(f"{s.school.name} ({s.school.school_id})" for s in mine.schools)
    raise UsageError(f"you belong to several schools: {names}; choose with `parta school use` or --school")


async def school_by_ref(parta: Parta, ref: str) -> str:
    mine = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
    candidates = [Candidate(s.school.school_id, (s.school.name, s.school.short_name)) for s in mine.schools]
    return pick("school", ref, candidates)


async def every_page(fetch: Callable[[types_pb2.PageRequest], Awaitable[Any]], field: str) -> list[Any]:
    """All items of a paged List RPC: `fetch(page)` makes one call, `field` names the repeated result."""
    items: list[Any] = []
    token = ""
    while True:
        reply = await fetch(types_pb2.PageRequest(page_size=100, page_token=token))
        items.extend(getattr(reply, field))
        token = reply.page.next_page_token
        if not token:
            return items


async def all_classes(parta: Parta, school_id: str) -> list[school_pb2.SchoolClass]:
    return await every_page(
        lambda page: parta.classes.ListClasses(school_pb2.ListClassesRequest(school_id=school_id, page=page)),
        "classes",
    )


async def class_by_ref(parta: Parta, school_id: str, ref: str) -> str:
    classes = await all_classes(parta, school_id)
    return pick("class", ref, [Candidate(c.class_id, (c.title,)) for c in classes])


async def all_members(parta: Parta, school_id: str, class_id: str = "") -> list[Any]:
    """The members of a class, or of the school. The school-wide list is for staff (NOT_STAFF for
    students and parents): for them it is the members of their own classes."""

    async def of(class_id: str) -> list[Any]:
        return await every_page(
            lambda page: parta.members.ListMembers(
                school_pb2.ListMembersRequest(school_id=school_id, class_id=class_id, page=page)
            ),
            "members",
        )

    try:
        return await of(class_id)
    except grpc.aio.AioRpcError as error:
        if class_id or error.code() != grpc.StatusCode.PERMISSION_DENIED:
            raise
    mine = await parta.members.GetMemberships(
        school_pb2.GetMembershipsRequest(user_id=parta.require_session().user_id, school_id=school_id)
    )
    seen: dict[bytes, Any] = {}
    for own_class in sorted({m.class_id for m in mine.memberships if m.class_id}):
        for m in await of(own_class):
            seen.setdefault(m.SerializeToString(deterministic=True), m)
    return list(seen.values())


async def display_names(parta: Parta, user_ids: Iterable[str]) -> dict[str, str]:
    """Names of people the caller shares a school with; best effort (a missing name is not an error)."""
    ids = sorted({u for u in user_ids if u})
    names: dict[str, str] = {}
    for start in range(0, len(ids), 200):
        try:
            reply = await parta.profiles.BatchGetDisplayNames(
                profiles_pb2.BatchGetDisplayNamesRequest(user_ids=ids[start : start + 200])
            )
        except grpc.aio.AioRpcError:
            return names
        names.update({n.user_id: n.display_name for n in reply.names})
    return names


async def person_by_ref(parta: Parta, school_id: str, ref: str, class_id: str = "") -> str:
    """A member of the school (or class) by user id or display name ("Ольга Смирнова")."""
    members = await all_members(parta, school_id, class_id)
    names = await display_names(parta, (m.user_id for m in members))
    candidates = {}
    for m in members:
        name = names.get(m.user_id, "")
        candidates[m.user_id] = Candidate(m.user_id, (name,), name)
    return pick("person", ref, candidates.values())


async def chats_of(parta: Parta, school_id: str = "") -> list[chat_pb2.ChatView]:
    reply = await parta.chats.ListChats(chat_pb2.ListChatsRequest(school_id=school_id))
    return list(reply.chats)


async def chat_by_ref(cli: Cli, parta: Parta, ref: str) -> str:
    school_id = cli.school and await school_by_ref(parta, cli.school)
    views = await chats_of(parta, school_id)
    kind = CHAT_ALIASES.get(ref.strip().lower())
    if kind is not None:
        matching = [v.chat.chat_id for v in views if v.chat.kind == kind]
        if len(matching) == 1:
            return matching[0]
    candidates = [Candidate(v.chat.chat_id, (v.chat.title,), v.chat.title) for v in views]
    return pick("chat", ref, candidates)


async def people_by_ref(parta: Parta, school_id: str, refs: Iterable[str]) -> list[str]:
    """Several members by id or name with one member listing (not one per person)."""
    wanted = list(refs)
    if not wanted:
        return []
    members = await all_members(parta, school_id)
    names = await display_names(parta, (m.user_id for m in members))
    candidates = {}
    for m in members:
        name = names.get(m.user_id, "")
        candidates[m.user_id] = Candidate(m.user_id, (name,), name)
    return list(dict.fromkeys(pick("person", ref, candidates.values()) for ref in wanted))
