"""`parta`: the command line for the whole Parta flow, a real gRPC client of every service.

Each command opens the profile's session ($PARTA_HOME/profiles/<profile>.json), makes its calls and
prints the result (tables for people, `--json` for scripts). Expected failures print the gRPC status
and the service's reason (e.g. `PERMISSION_DENIED STAFF_NOT_VERIFIED: …`) and exit 1; input that
cannot become a request exits 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import timestamp_pb2
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta.common.v1 import types_pb2
from parta.identity.v1 import guardians_pb2, profiles_pb2
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2
from rich.console import Console
from rich.table import Table

from parta_client.audit_cli import audit_app
from parta_client.client import Parta, new_request_id, new_trace_id
from parta_client.config import Endpoints, parta_home
from parta_client.devsms import DevSmsFile, mask_phone, normalize_phone
from parta_client.errors import CallError, NotSignedIn, Refused, describe
from parta_client.resolve import (
    Candidate,
    UsageError,
    choose_role,
    invite_token,
    parse_class_name,
    parse_duration,
    parse_when,
    pick,
)
from parta_client.session import SessionStore
from parta_client.signalling import SignalSession, refused

CHUNK = 256 * 1024
# A staff room's worth of teachers, a class of students, two parents for one child.
DEFAULT_USES = {"teacher": 50, "student": 40, "parent": 2}
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
CHAT_KINDS = {
    chat_events.CHAT_KIND_SCHOOL_CHANNEL: "school channel",
    chat_events.CHAT_KIND_STAFF_CHANNEL: "staff channel",
    chat_events.CHAT_KIND_CLASS: "class",
    chat_events.CHAT_KIND_CLASS_PARENTS: "class parents",
    chat_events.CHAT_KIND_GROUP: "group",
    chat_events.CHAT_KIND_DIRECT: "direct",
}
# Words that name a chat by its kind ("parta send school 'Hello'").
CHAT_ALIASES = {
    "school": chat_events.CHAT_KIND_SCHOOL_CHANNEL,
    "channel": chat_events.CHAT_KIND_SCHOOL_CHANNEL,
    "staff": chat_events.CHAT_KIND_STAFF_CHANNEL,
}
REQUEST_STATES = {
    school_events.JOIN_REQUEST_STATE_PENDING: "pending",
    school_events.JOIN_REQUEST_STATE_APPROVED: "approved",
    school_events.JOIN_REQUEST_STATE_REJECTED: "rejected",
}


@dataclass
class State:
    profile: str = "default"
    school: str = ""
    json: bool = False
    trace_id: str = ""


STATE = State()


def out() -> Console:
    # Built per use so in-process runners (tests) that swap sys.stdout are honoured.
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def err() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def store() -> SessionStore:
    return SessionStore(parta_home(), STATE.profile)


def run(action: Callable[[Parta], Awaitable[None]]) -> None:
    """Runs one command's calls and turns expected failures into a message and an exit code."""

    async def main() -> None:
        if STATE.trace_id:
            # On stderr first, so it is there even when the command fails.
            err().print(f"trace {STATE.trace_id}", markup=False)
        async with Parta(Endpoints.from_env(), store(), trace_id=STATE.trace_id) as parta:
            await action(parta)

    try:
        asyncio.run(main())
    except grpc.aio.AioRpcError as error:
        report(describe(error))
        raise typer.Exit(1) from None
    except Refused as error:
        report(error.failure)
        raise typer.Exit(1) from None
    except NotSignedIn as error:
        err().print(f"error: {error} — run `parta login PHONE` (profile {STATE.profile})", markup=False)
        raise typer.Exit(1) from None
    except UsageError as error:
        err().print(f"error: {error}", markup=False)
        raise typer.Exit(2) from None
    except TimeoutError as error:
        err().print(f"error: {error}", markup=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def report(failure: CallError) -> None:
    console = err()
    console.print(f"[bold red]error[/]: {failure.line()}", markup=True)
    for field, description in failure.violations:
        console.print(f"  {field}: {description}", markup=False)
    if failure.retry_after_seconds:
        console.print(f"  retry after {failure.retry_after_seconds:.0f} s", markup=False)
    if failure.code == "UNAVAILABLE":
        console.print("  is the service running? (`make run`, or PARTA_<SERVICE>_ADDR)", markup=False)


def emit(data: Any, human: Callable[[], None]) -> None:
    """--json prints the data (protobuf messages as their JSON mapping); otherwise the human view."""
    if STATE.json:
        typer.echo(json.dumps(to_plain(data), ensure_ascii=False, indent=2))
    else:
        human()


def to_plain(data: Any) -> Any:
    if isinstance(data, Message):
        return MessageToDict(data, preserving_proto_field_name=True)
    if isinstance(data, dict):
        return {k: to_plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_plain(v) for v in data]
    return data


def grid(*headers: str) -> Table:
    """A table whose id columns are never cut short ("01a2227d-…" cannot be copied into a command)."""
    table = Table()
    for header in headers:
        if header.endswith("id"):
            table.add_column(header, overflow="fold", min_width=36)
        else:
            table.add_column(header)
    return table


def when(ts: timestamp_pb2.Timestamp) -> str:
    if not ts.seconds:
        return ""
    return ts.ToDatetime(UTC).astimezone().strftime("%Y-%m-%d %H:%M")


# -- resolution helpers -----------------------------------------------------------------------------


async def current_school(parta: Parta) -> str:
    """--school, else the profile's chosen school, else the only school the person belongs to."""
    if STATE.school:
        return await school_by_ref(parta, STATE.school)
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
    return await every_page(
        lambda page: parta.members.ListMembers(
            school_pb2.ListMembersRequest(school_id=school_id, class_id=class_id, page=page)
        ),
        "members",
    )


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


async def chat_by_ref(parta: Parta, ref: str) -> str:
    school_id = STATE.school and await school_by_ref(parta, STATE.school)
    views = await chats_of(parta, school_id)
    kind = CHAT_ALIASES.get(ref.strip().lower())
    if kind is not None:
        matching = [v.chat.chat_id for v in views if v.chat.kind == kind]
        if len(matching) == 1:
            return matching[0]
    candidates = [Candidate(v.chat.chat_id, (v.chat.title,), v.chat.title) for v in views]
    return pick("chat", ref, candidates)


# -- the app ----------------------------------------------------------------------------------------

app = typer.Typer(
    name="parta",
    help="Parta from the terminal: sign in, schools, classes, invites, chats, files, lessons, calls and broadcasts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
profile_app = typer.Typer(help="Your educational profile.", no_args_is_help=True)
school_app = typer.Typer(help="Schools: register (operators), show, choose, verify staff.", no_args_is_help=True)
class_app = typer.Typer(help="Classes of the current school.", no_args_is_help=True)
invite_app = typer.Typer(help="Invite links and QR codes.", no_args_is_help=True)
requests_app = typer.Typer(help="Join requests of a class (class heads and admins).", no_args_is_help=True)
chats_app = typer.Typer(help="Your chats.", no_args_is_help=True)
file_app = typer.Typer(help="Files in your personal storage.", no_args_is_help=True)
lesson_app = typer.Typer(help="Lessons of a class.", no_args_is_help=True)
# The CLI is a control panel for rooms: it creates, starts, ends and shows them and prints the grant a
# media client needs to join, but carries no audio or video itself (that takes WebRTC).
NO_MEDIA = "The CLI sets rooms up and prints what a media client needs to join; it sends no audio or video."
call_app = typer.Typer(help=f"Calls of up to 4 people (peer-to-peer). {NO_MEDIA}", no_args_is_help=True)
broadcast_app = typer.Typer(
    help=f"Broadcasts: a few presenters on stage, many viewers (parents' meetings, assemblies). {NO_MEDIA}",
    no_args_is_help=True,
)
guardian_app = typer.Typer(help="Guardians: link to a child, grant consent.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")
policy_app = typer.Typer(help="The school's communication policy (admins).", no_args_is_help=True)
school_app.add_typer(policy_app, name="policy")
app.add_typer(school_app, name="school")
app.add_typer(class_app, name="class")
app.add_typer(invite_app, name="invite")
app.add_typer(requests_app, name="requests")
app.add_typer(chats_app, name="chats")
app.add_typer(file_app, name="file")
app.add_typer(lesson_app, name="lesson")
app.add_typer(call_app, name="call")
app.add_typer(broadcast_app, name="broadcast")
app.add_typer(guardian_app, name="guardian")
app.add_typer(audit_app, name="audit")  # parta_client.audit_cli


@app.callback()
def options(
    profile: Annotated[
        str, typer.Option("--profile", "-p", envvar="PARTA_PROFILE", help="Session profile (one per person).")
    ] = "default",
    school: Annotated[str, typer.Option("--school", help="School id or name (default: the profile's).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    trace: Annotated[
        bool, typer.Option("--trace", help="Send W3C trace context with every call; prints the trace id.")
    ] = False,
) -> None:
    STATE.profile, STATE.school, STATE.json = profile, school, as_json
    STATE.trace_id = new_trace_id() if trace else ""
    try:
        store()
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--profile") from None


# -- sign-in ----------------------------------------------------------------------------------------


@app.command()
def login(
    phone: Annotated[str, typer.Argument(help="Phone number, e.g. +70000000001.")],
    sms_file: Annotated[
        Path | None,
        typer.Option("--sms-file", envvar="PARTA_DEV_SMS_FILE", help="Read the code from the dev SMS gateway file."),
    ] = None,
    device: Annotated[str, typer.Option(help="Device name shown in your session list.")] = "parta-cli",
) -> None:
    """Sign in with a one-time code (from the dev gateway file, or typed at the prompt)."""

    async def action(parta: Parta) -> None:
        if sms_file is not None:
            codes: Any = DevSmsFile(sms_file)
        else:

            async def prompt(_: str) -> str:
                return str(await asyncio.to_thread(typer.prompt, "Code from the SMS"))

            codes = prompt
        reply = await parta.sign_in(phone, codes, device_name=device)
        schools: list[Any] = []
        try:  # listing claims roles waiting for this phone (the first admin of a school)
            schools = list((await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())).schools)
        except grpc.aio.AioRpcError:
            pass
        session = parta.require_session()
        if len(schools) == 1 and not session.school_id:
            session.school_id = schools[0].school.school_id
            parta.save_session()
        data = {"user_id": reply.user_id, "is_new_user": reply.is_new_user, "has_profile": reply.has_profile}
        data["schools"] = [s.school.school_id for s in schools]

        def human() -> None:
            console = out()
            console.print(f"Signed in as {mask_phone(phone)} (user {reply.user_id}, profile '{STATE.profile}').")
            for s in schools:
                roles = ", ".join(ROLE_NAMES.get(r, "?") for r in s.roles)
                console.print(f"  school: {s.school.name} — {roles} ({s.school.school_id})")
            if not reply.has_profile:
                console.print("Next: parta profile create FIRST LAST --birth-date YYYY-MM-DD")

        emit(data, human)

    run(action)


@app.command()
def logout() -> None:
    """Revoke this profile's session and forget it."""

    async def action(parta: Parta) -> None:
        if parta.session is None:
            out().print("Not signed in.")
            return
        await parta.sign_out()
        out().print(f"Signed out (profile '{STATE.profile}').")

    run(action)


@app.command()
def whoami() -> None:
    """Who this profile is signed in as."""

    async def action(parta: Parta) -> None:
        session = parta.require_session()
        profile = (await parta.profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest())).profile
        data = {"user_id": session.user_id, "profile": STATE.profile, "school_id": session.school_id}

        def human() -> None:
            name = f"{profile.first_name} {profile.last_name}".strip() or "(no profile yet)"
            out().print(f"{name} — user {session.user_id}, phone {mask_phone(session.phone)}")
            if session.school_id:
                out().print(f"school: {session.school_id}")

        emit(data, human)

    run(action)


# -- profile ----------------------------------------------------------------------------------------


def show_profile(profile: profiles_pb2.Profile) -> None:
    table = Table(show_header=False)
    table.add_row("name", " ".join(p for p in (profile.last_name, profile.first_name, profile.patronymic) if p))
    table.add_row("birth date", profile.birth_date)
    table.add_row("user id", profile.user_id)
    table.add_row("consent", "awaiting guardian" if profile.consent_state == 2 else "ok")
    out().print(table)


@profile_app.command("create")
def profile_create(
    first_name: str,
    last_name: str,
    birth_date: Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD")],
    patronymic: Annotated[str, typer.Option()] = "",
) -> None:
    """Create your educational profile (once, after the first sign-in)."""

    async def action(parta: Parta) -> None:
        reply = await parta.profiles.CreateProfile(
            profiles_pb2.CreateProfileRequest(
                first_name=first_name,
                last_name=last_name,
                patronymic=patronymic,
                birth_date=birth_date,
                request_id=new_request_id(),
            )
        )
        emit(reply.profile, lambda: show_profile(reply.profile))

    run(action)


@profile_app.command("show")
def profile_show() -> None:
    """Show your educational profile."""

    async def action(parta: Parta) -> None:
        profile = (await parta.profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest())).profile
        emit(profile, lambda: show_profile(profile))

    run(action)


# -- schools ----------------------------------------------------------------------------------------


def current_academic_year(today: date | None = None) -> str:
    """Russian schools' year runs September to August: "2026/2027" from September 2026."""
    today = today or date.today()
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}/{start + 1}"


def show_school(school: school_pb2.School, roles: Iterable[int] = ()) -> None:
    table = Table(show_header=False)
    table.add_row("name", school.name)
    table.add_row("school id", school.school_id)
    for label, value in (
        ("region", school.region),
        ("address", school.address),
        ("timezone", school.timezone),
        ("academic year", school.academic_year),
    ):
        if value:
            table.add_row(label, value)
    if school.admin_vacant:
        table.add_row("admin seat", f"vacant since {when(school.admin_vacant_since)}: an operator appoints a successor")
    role_names = ", ".join(ROLE_NAMES.get(int(r), "?") for r in roles)
    if role_names:
        table.add_row("your roles", role_names)
    out().print(table)


@school_app.command("register")
def school_register(
    name: str,
    admin_phone: Annotated[str, typer.Option("--admin-phone", help="Phone of the first admin.")],
    short_name: Annotated[str, typer.Option()] = "",
    region: Annotated[str, typer.Option()] = "",
    address: Annotated[str, typer.Option()] = "",
    timezone: Annotated[str, typer.Option()] = "Europe/Moscow",
    academic_year: Annotated[str, typer.Option("--academic-year")] = "",
    request_id: Annotated[str, typer.Option("--request-id", help="Retry-safe id (default: random).")] = "",
) -> None:
    """Register a school (operators only); the person signing in with --admin-phone becomes its admin."""

    async def action(parta: Parta) -> None:
        reply = await parta.schools.RegisterSchool(
            school_pb2.RegisterSchoolRequest(
                request_id=request_id or new_request_id(),
                name=name,
                short_name=short_name,
                region=region,
                address=address,
                timezone=timezone,
                academic_year=academic_year or current_academic_year(),
                admin_phone=admin_phone,
            )
        )
        emit(reply.school, lambda: show_school(reply.school))

    run(action)


@school_app.command("list")
def school_list() -> None:
    """Schools you belong to (claims an admin role waiting for your phone)."""

    async def action(parta: Parta) -> None:
        reply = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
        current = parta.require_session().school_id

        def human() -> None:
            table = grid("", "school", "roles", "verified", "id")
            for s in reply.schools:
                mark = "*" if s.school.school_id == current else ""
                roles = ", ".join(ROLE_NAMES.get(r, "?") for r in s.roles)
                table.add_row(mark, s.school.name, roles, "yes" if s.verified else "", s.school.school_id)
            out().print(table)

        emit(list(reply.schools), human)

    run(action)


@school_app.command("show")
def school_show(school: Annotated[str, typer.Argument(help="Id or name (default: current).")] = "") -> None:
    """Show a school you belong to."""

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, school) if school else await current_school(parta)
        reply = await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))
        mine = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
        roles = next((list(s.roles) for s in mine.schools if s.school.school_id == school_id), [])
        emit(reply.school, lambda: show_school(reply.school, roles))

    run(action)


@school_app.command("use")
def school_use(school: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Choose the school later commands act on (kept in the profile)."""

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, school)
        parta.require_session().school_id = school_id
        parta.save_session()
        emit({"school_id": school_id}, lambda: out().print(f"Current school: {school_id}"))

    run(action)


@school_app.command("members")
def school_members(class_: Annotated[str, typer.Option("--class", help="Only this class.")] = "") -> None:
    """Members of the school (school-level roles) or of one class."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        members = await all_members(parta, school_id, class_id)
        names = await display_names(parta, [m.user_id for m in members] + [m.child_user_id for m in members])

        def human() -> None:
            table = grid("name", "role", "class role", "verified", "child", "user id")
            for m in members:
                table.add_row(
                    names.get(m.user_id, ""),
                    ROLE_NAMES.get(m.school_role, ""),
                    CLASS_ROLE_NAMES.get(m.class_role, ""),
                    "yes" if m.verified else "",
                    names.get(m.child_user_id, m.child_user_id),
                    m.user_id,
                )
            out().print(table)

        emit(members, human)

    run(action)


@school_app.command("new-year")
def school_new_year(
    academic_year: Annotated[str, typer.Argument(help='The next academic year, e.g. "2027/2028".')],
    request_id: Annotated[str, typer.Option("--request-id", help="Retry-safe id (default: random).")] = "",
) -> None:
    """Start the next academic year (admins): classes move up a grade, the 11th graduates. Safe to repeat:
    the same year again finishes an interrupted rollover and shows its result."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        reply = await parta.schools.StartAcademicYear(
            school_pb2.StartAcademicYearRequest(
                school_id=school_id, academic_year=academic_year, request_id=request_id or new_request_id()
            )
        )

        def human() -> None:
            console = out()
            console.print(f"{reply.previous_academic_year} → {reply.school.academic_year}")
            table = grid("class", "now", "class id")
            for c in sorted(reply.promoted, key=lambda c: (c.grade, c.letter)):
                table.add_row(f"{c.grade - 1}{c.letter}", c.title, c.class_id)
            for c in sorted(reply.graduated, key=lambda c: c.letter):
                table.add_row(c.title, "graduated", c.class_id)
            console.print(table)
            console.print(f"{len(reply.promoted)} moved up, {len(reply.graduated)} graduated")

        emit(reply, human)

    run(action)


POLICY_SWITCHES = {
    "students_reach_classmates": "students DM, call and share groups with classmates",
    "parents_reach_parents": "parents of one class reach each other",
    "calls_with_students": "adults call students (off: lessons only; guardians still call their child)",
}


def _switch(name: str) -> Any:
    flag = name.replace("_", "-")
    return typer.Option(f"--{flag}/--no-{flag}", help=f"{POLICY_SWITCHES[name]}.", show_default=False)


def show_policy(policy: school_events.CommunicationPolicy) -> None:
    table = grid("switch", "state", "what it allows")
    for name, meaning in POLICY_SWITCHES.items():
        on = getattr(policy, name) if policy.HasField(name) else True  # type: ignore[arg-type]
        table.add_row(name.replace("_", "-"), "on" if on else "off", meaning)
    out().print(table)


@policy_app.command("show")
def school_policy_show() -> None:
    """The current school's communication policy (admins)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        reply = await parta.schools.GetSchoolPolicy(school_pb2.GetSchoolPolicyRequest(school_id=school_id))
        emit(reply.policy, lambda: show_policy(reply.policy))

    run(action)


@policy_app.command("set")
def school_policy_set(
    students_reach_classmates: Annotated[bool | None, _switch("students_reach_classmates")] = None,
    parents_reach_parents: Annotated[bool | None, _switch("parents_reach_parents")] = None,
    calls_with_students: Annotated[bool | None, _switch("calls_with_students")] = None,
) -> None:
    """Switch parts of the communication policy off (--no-…) or back on (admins). A switch only takes
    rights away from the platform defaults; switches not named stay as they are."""
    wanted = {
        "students_reach_classmates": students_reach_classmates,
        "parents_reach_parents": parents_reach_parents,
        "calls_with_students": calls_with_students,
    }
    switches = {k: v for k, v in wanted.items() if v is not None}
    if not switches:
        raise typer.BadParameter("name at least one switch, e.g. --no-students-reach-classmates")

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        request = school_pb2.SetSchoolPolicyRequest(
            school_id=school_id, policy=school_events.CommunicationPolicy(**switches)
        )
        reply = await parta.schools.SetSchoolPolicy(request)
        emit(reply.policy, lambda: show_policy(reply.policy))

    run(action)


@school_app.command("verify")
def school_verify(person: Annotated[str, typer.Argument(help="User id or name of a teacher.")]) -> None:
    """Verify a staff member (admins)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.schools.VerifyStaff(school_pb2.VerifyStaffRequest(school_id=school_id, user_id=user_id))
        emit({"verified": user_id}, lambda: out().print(f"Verified {user_id}."))

    run(action)


@school_app.command("appoint-admin")
def school_appoint_admin(
    person: Annotated[str, typer.Argument(help="User id or name of a staff member.")] = "",
    phone: Annotated[str, typer.Option("--phone", help="Operators, school without admin: the successor's phone.")] = "",
    school: Annotated[str, typer.Option("--school", help="School id (operators are not members).")] = "",
) -> None:
    """Make a staff member an admin too (admins), or fill a vacant admin seat (operators)."""
    if bool(person) == bool(phone):
        raise typer.BadParameter("name a staff member or give --phone, not both")

    async def action(parta: Parta) -> None:
        school_id = school or await current_school(parta)
        if phone:
            # The successor becomes admin when they sign in with this phone (as with a new school).
            request = school_pb2.AppointAdminRequest(school_id=school_id, admin_phone=normalize_phone(phone))
            await parta.schools.AppointAdmin(request)
            masked = mask_phone(request.admin_phone)
            emit({"admin_phone": masked}, lambda: out().print(f"{masked} becomes admin on signing in."))
            return
        # An operator is no member: with --school, PERSON must be the user id itself.
        user_id = person if school else await person_by_ref(parta, school_id, person)
        await parta.schools.AppointAdmin(school_pb2.AppointAdminRequest(school_id=school_id, user_id=user_id))
        emit({"admin": user_id}, lambda: out().print(f"{user_id} is now an admin."))

    run(action)


@school_app.command("vacant")
def school_vacant() -> None:
    """Schools whose last admin is gone (operators): appoint a successor with appoint-admin."""

    async def action(parta: Parta) -> None:
        schools: list[school_pb2.School] = await every_page(
            lambda page: parta.schools.ListVacantSchools(school_pb2.ListVacantSchoolsRequest(page=page)), "schools"
        )

        def human() -> None:
            table = grid("school id", "name", "region", "vacant since")
            for school in schools:
                table.add_row(school.school_id, school.name, school.region, when(school.admin_vacant_since))
            out().print(table)

        emit(schools, human)

    run(action)


# -- classes ----------------------------------------------------------------------------------------


@class_app.command("create")
def class_create(
    name: Annotated[str, typer.Argument(help="Grade and letter, e.g. 5А.")],
    request_id: Annotated[str, typer.Option("--request-id")] = "",
) -> None:
    """Create a class (admins)."""

    async def action(parta: Parta) -> None:
        grade, letter = parse_class_name(name)
        school_id = await current_school(parta)
        reply = await parta.classes.CreateClass(
            school_pb2.CreateClassRequest(
                request_id=request_id or new_request_id(), school_id=school_id, grade=grade, letter=letter
            )
        )
        created = getattr(reply, "class")
        emit(created, lambda: out().print(f"Class {created.title} created ({created.class_id})."))

    run(action)


@class_app.command("list")
def class_list() -> None:
    """Classes of the current school."""

    async def action(parta: Parta) -> None:
        classes = await all_classes(parta, await current_school(parta))

        def human() -> None:
            table = grid("class", "year", "class id")
            for c in classes:
                table.add_row(c.title, c.academic_year, c.class_id)
            out().print(table)

        emit(classes, human)

    run(action)


@class_app.command("head")
def class_head(class_: Annotated[str, typer.Argument(metavar="CLASS")], person: str) -> None:
    """Make a teacher the class head (admins)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.classes.SetClassHead(school_pb2.SetClassHeadRequest(class_id=class_id, user_id=user_id))
        emit({"class_id": class_id, "class_head": user_id}, lambda: out().print("Class head set."))

    run(action)


@class_app.command("teacher")
def class_teacher(
    class_: Annotated[str, typer.Argument(metavar="CLASS")],
    person: str,
    subject: Annotated[str, typer.Option(help="What they teach, e.g. Математика.")],
) -> None:
    """Add a subject teacher to a class (admins)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.classes.AddSubjectTeacher(
            school_pb2.AddSubjectTeacherRequest(class_id=class_id, user_id=user_id, subject=subject)
        )
        emit({"class_id": class_id, "teacher": user_id}, lambda: out().print(f"{subject} teacher added."))

    run(action)


# -- invites ----------------------------------------------------------------------------------------


def print_qr(link: str) -> None:
    import segno

    segno.make(link, error="m").terminal(out=sys.stdout, compact=True)


@invite_app.command("create")
def invite_create(
    role: Annotated[str, typer.Option(help="teacher, student or parent")],
    class_: Annotated[str, typer.Option("--class", help="Class (students and parents).")] = "",
    child: Annotated[str, typer.Option(help="Parent invites: the child (user id or name).")] = "",
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 7d, 12h.")] = "7d",
    max_uses: Annotated[int, typer.Option("--max-uses", help="Default: teacher 50, student 40, parent 2.")] = 0,
    approval: Annotated[bool, typer.Option("--approval", help="Joining needs the class head's approval.")] = False,
    qr: Annotated[bool, typer.Option("--qr/--no-qr", help="Draw the QR code in the terminal.")] = True,
    request_id: Annotated[str, typer.Option("--request-id")] = "",
) -> None:
    """Create an invite link (and show its QR code)."""

    async def action(parta: Parta) -> None:
        chosen = choose_role(role, ("teacher", "student", "parent"))
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        child_id = await person_by_ref(parta, school_id, child, class_id) if child else ""
        reply = await parta.invites.CreateInvite(
            school_pb2.CreateInviteRequest(
                request_id=request_id or new_request_id(),
                school_id=school_id,
                class_id=class_id,
                role=ROLES[chosen],
                child_user_id=child_id,
                ttl_seconds=parse_duration(ttl),
                max_uses=max_uses or DEFAULT_USES[chosen],
                requires_approval=approval,
            )
        )

        def human() -> None:
            invite = reply.invite
            out().print(f"Invite for a {chosen}: {invite.uses}/{invite.max_uses} uses, until {when(invite.expires_at)}")
            typer.echo(reply.link)
            typer.echo(f"token: {reply.token}")
            if qr:
                print_qr(reply.link)

        emit({"invite": reply.invite, "token": reply.token, "link": reply.link}, human)

    run(action)


def show_preview(preview: school_pb2.PreviewInviteResponse) -> None:
    where = f"{preview.school_name}" + (f", class {preview.class_title}" if preview.class_title else "")
    approval = " (needs approval)" if preview.requires_approval else ""
    out().print(f"Invite to {where} as {ROLE_NAMES.get(preview.role, '?')}{approval}, until {when(preview.expires_at)}")


@invite_app.command("preview")
def invite_preview(token: Annotated[str, typer.Argument(help="Token or link.")]) -> None:
    """What an invite is for, without joining (no sign-in needed)."""

    async def action(parta: Parta) -> None:
        preview = await parta.invites.PreviewInvite(school_pb2.PreviewInviteRequest(token=invite_token(token)))
        emit(preview, lambda: show_preview(preview))

    run(action)


@invite_app.command("accept")
def invite_accept(token: Annotated[str, typer.Argument(help="Token or link.")]) -> None:
    """Join a school or class with an invite (or ask to, when it needs approval)."""

    async def action(parta: Parta) -> None:
        reply = await parta.invites.AcceptInvite(school_pb2.AcceptInviteRequest(token=invite_token(token)))
        session = parta.require_session()
        if not session.school_id:
            session.school_id = reply.school_id
            parta.save_session()

        def human() -> None:
            if reply.HasField("join_request"):
                out().print(f"Join request sent ({reply.join_request.join_request_id}); the class head decides.")
            else:
                seats = ", ".join(
                    CLASS_ROLE_NAMES.get(m.class_role, ROLE_NAMES.get(m.school_role, "?")) for m in reply.memberships
                )
                out().print(f"Joined school {reply.school_id}: {seats}")

        emit(reply, human)

    run(action)


@invite_app.command("list")
def invite_list(class_: Annotated[str, typer.Option("--class")] = "") -> None:
    """Invites of the school (teachers see their own)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        reply = await parta.invites.ListInvites(
            school_pb2.ListInvitesRequest(
                school_id=school_id, class_id=class_id, page=types_pb2.PageRequest(page_size=100)
            )
        )

        def human() -> None:
            table = grid("invite id", "role", "uses", "until", "state")
            for i in reply.invites:
                state = "revoked" if i.revoked else "approval" if i.requires_approval else ""
                table.add_row(
                    i.invite_id, ROLE_NAMES.get(i.role, "?"), f"{i.uses}/{i.max_uses}", when(i.expires_at), state
                )
            out().print(table)

        emit(list(reply.invites), human)

    run(action)


@invite_app.command("revoke")
def invite_revoke(invite_id: str) -> None:
    """Revoke an invite: its link stops working."""

    async def action(parta: Parta) -> None:
        reply = await parta.invites.RevokeInvite(school_pb2.RevokeInviteRequest(invite_id=invite_id))
        emit(reply.invite, lambda: out().print("Revoked."))

    run(action)


# -- join requests ----------------------------------------------------------------------------------


@requests_app.command("list")
def requests_list(
    class_: Annotated[str, typer.Option("--class", help="Class (default: every class you may decide for).")] = "",
    every: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
) -> None:
    """Join requests waiting for a decision."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        state = school_events.JOIN_REQUEST_STATE_UNSPECIFIED if every else school_events.JOIN_REQUEST_STATE_PENDING
        classes = await all_classes(parta, school_id)
        titles = {c.class_id: c.title for c in classes}

        async def listed(class_id: str) -> list[Any]:
            reply = await parta.join_requests.ListJoinRequests(
                school_pb2.ListJoinRequestsRequest(
                    school_id=school_id, class_id=class_id, state=state, page=types_pb2.PageRequest(page_size=100)
                )
            )
            return list(reply.join_requests)

        try:
            found = await listed(class_id)
        except grpc.aio.AioRpcError as error:
            if class_id or error.code() != grpc.StatusCode.PERMISSION_DENIED:
                raise
            # Not an admin: the classes this person decides for (a class head's own class).
            found = []
            for c in classes:
                try:
                    found.extend(await listed(c.class_id))
                except grpc.aio.AioRpcError as denied:
                    if denied.code() != grpc.StatusCode.PERMISSION_DENIED:
                        raise
        names = await display_names(parta, [r.user_id for r in found])

        def human() -> None:
            table = grid("request id", "who", "class", "role", "state", "since")
            for r in found:
                table.add_row(
                    r.join_request_id,
                    names.get(r.user_id, r.user_id),
                    titles.get(r.class_id, r.class_id),
                    ROLE_NAMES.get(r.role, "?"),
                    REQUEST_STATES.get(r.state, "?"),
                    when(r.created_at),
                )
            out().print(table)

        emit(found, human)

    run(action)


def _decide(join_request_id: str, approve: bool) -> None:
    async def action(parta: Parta) -> None:
        if approve:
            reply: Any = await parta.join_requests.ApproveJoinRequest(
                school_pb2.ApproveJoinRequestRequest(join_request_id=join_request_id)
            )
        else:
            reply = await parta.join_requests.RejectJoinRequest(
                school_pb2.RejectJoinRequestRequest(join_request_id=join_request_id)
            )
        state = REQUEST_STATES.get(reply.join_request.state, "?")
        emit(reply.join_request, lambda: out().print(f"Request {join_request_id}: {state}."))

    run(action)


@requests_app.command("approve")
def requests_approve(join_request_id: str) -> None:
    """Approve a join request: the person becomes a member."""
    _decide(join_request_id, True)


@requests_app.command("reject")
def requests_reject(join_request_id: str) -> None:
    """Reject a join request."""
    _decide(join_request_id, False)


# -- guardians --------------------------------------------------------------------------------------


@guardian_app.command("link")
def guardian_link(child_phone: Annotated[str, typer.Option("--child-phone")]) -> None:
    """Link yourself as the guardian of a child (confirmed by the child or by the school)."""

    async def action(parta: Parta) -> None:
        reply = await parta.guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(child_phone=child_phone))
        if reply.link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED:
            emit(reply.link, lambda: out().print(f"Link to {reply.link.child_user_id}: linked."))
        else:
            # Identity tells a phone request nothing about the child (not even whether it exists).
            emit(reply.link, lambda: out().print("Request sent: the child confirms it (or the school does)."))

    run(action)


@guardian_app.command("consent")
def guardian_consent(child: Annotated[str, typer.Argument(help="The child's user id.")]) -> None:
    """Grant consent for your child (below the consent age) to use Parta."""

    async def action(parta: Parta) -> None:
        reply = await parta.guardians.GrantConsent(guardians_pb2.GrantConsentRequest(child_user_id=child))
        emit(reply.link, lambda: out().print("Consent granted."))

    run(action)


@guardian_app.command("children")
def guardian_children() -> None:
    """Children you are linked to."""

    async def action(parta: Parta) -> None:
        reply = await parta.guardians.ListMyChildren(guardians_pb2.ListMyChildrenRequest())

        def human() -> None:
            table = grid("child", "state", "consent", "user id")
            for link in reply.links:
                linked = link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED
                table.add_row(
                    link.display_name,
                    "linked" if linked else "pending",
                    "yes" if link.consent_granted else "",
                    link.child_user_id,
                )
            out().print(table)

        emit(list(reply.links), human)

    run(action)


# -- chats ------------------------------------------------------------------------------------------


@chats_app.command("list")
def chats_list() -> None:
    """Your chats with unread counts."""

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, STATE.school) if STATE.school else ""
        views = await chats_of(parta, school_id)

        def human() -> None:
            table = grid("chat", "kind", "members", "unread", "can post", "chat id")
            for v in views:
                table.add_row(
                    v.chat.title,
                    CHAT_KINDS.get(v.chat.kind, "?"),
                    str(v.chat.member_count),
                    str(v.unread_count or ""),
                    "yes" if v.can_post else "",
                    v.chat.chat_id,
                )
            out().print(table)

        emit(views, human)

    run(action)


def message_line(message: chat_events.MessageSnapshot, names: dict[str, str]) -> str:
    who = "system" if message.system else names.get(message.sender_user_id, message.sender_user_id[:8])
    text = "(deleted)" if message.deleted else message.text
    files = f" [files: {', '.join(message.file_ids)}]" if message.file_ids else ""
    edited = " (edited)" if message.edited_at.seconds else ""
    return f"#{message.seq} {when(message.sent_at)} {who}: {text}{files}{edited}"


@app.command()
def send(
    chat: Annotated[str, typer.Argument(help="Chat id, title (5А) or school/staff.")],
    text: str,
    file: Annotated[list[str] | None, typer.Option("--file", help="Attach a stored file (id); repeatable.")] = None,
    reply_to: Annotated[int, typer.Option("--reply-to", help="Seq of the message answered.")] = 0,
    urgent: Annotated[bool, typer.Option(help="Admins: deliver now despite quiet hours.")] = False,
) -> None:
    """Send a message."""

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(parta, chat)
        reply = await parta.chats.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=chat_id,
                client_message_id=new_request_id(),
                text=text,
                reply_to_seq=reply_to,
                file_ids=file or [],
                urgent=urgent,
            )
        )

        def human() -> None:
            out().print(f"Sent #{reply.message.seq}.")
            if reply.deliver_at.seconds:
                out().print(f"Quiet hours: delivered to some members at {when(reply.deliver_at)}.")

        emit(reply, human)

    run(action)


@app.command()
def history(
    chat: Annotated[str, typer.Argument(help="Chat id, title or school/staff.")],
    limit: Annotated[int, typer.Option(help="How many messages (1..100).")] = 20,
    before: Annotated[int, typer.Option(help="Only messages before this seq.")] = 0,
) -> None:
    """The latest messages of a chat."""

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(parta, chat)
        reply = await parta.chats.ListMessages(
            chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=before, limit=limit)
        )
        names = await display_names(parta, (m.sender_user_id for m in reply.messages))

        def human() -> None:
            for message in reply.messages:
                out().print(message_line(message, names), markup=False)

        emit(list(reply.messages), human)

    run(action)


async def follow_chat(
    parta: Parta,
    chat_id: str,
    last: int,
    count: int,
    on_live: Callable[[], None] | None = None,
    on_status: Callable[[bool], None] | None = None,
) -> AsyncIterator[chat_events.MessageSnapshot]:
    """The latest `last` messages, then live ones (new, edited, deleted) until `count` new ones (0: forever).

    The subscription resumes after the newest update of the history page, so a message sent between
    reading the page and the stream being set up is not lost. `on_live` is called once the stream
    answered (the service sends the chat's snapshot and a live marker first); `on_status(degraded)`
    when the service says live delivery stopped (its replica cannot reach Kafka) or is back (what
    was missed then follows on the stream).
    """
    page = await parta.chats.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=max(last, 1)))
    shown: dict[int, int] = {}
    for message in list(page.messages)[-last:] if last else []:
        shown[message.seq] = message.update_seq
        yield message
    cursor = max((m.update_seq for m in page.messages), default=0)
    newest = max((m.seq for m in page.messages), default=0)
    stream = parta.chats.Subscribe(
        chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id=chat_id, update_seq=cursor)])
    )
    fresh = 0
    try:
        async for event in stream:
            if on_live is not None and event.WhichOneof("event") == "live":
                on_live()
                on_live = None
            if on_status is not None and event.WhichOneof("event") == "live_status":
                on_status(event.live_status.state == chat_pb2.LIVE_STATE_DEGRADED)
            if event.chat_id != chat_id or event.WhichOneof("event") != "message":
                continue
            message = event.message
            if shown.get(message.seq, -1) >= message.update_seq:
                continue  # already shown (history and the resumed stream overlap)
            # Edits, deletions and reactions of older messages are shown again but are not "new".
            is_new = message.seq > newest and message.seq not in shown
            shown[message.seq] = message.update_seq
            yield message
            if is_new:
                fresh += 1
                if count and fresh >= count:
                    return
    finally:
        stream.cancel()


@app.command()
def follow(
    chat: Annotated[str, typer.Argument(help="Chat id, title or school/staff.")],
    count: Annotated[int, typer.Option(help="Stop after this many new messages (0: until Ctrl-C).")] = 0,
    last: Annotated[int, typer.Option(help="Show this many recent messages first.")] = 5,
) -> None:
    """Follow a chat live until Ctrl-C (or --count new messages)."""

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(parta, chat)
        names: dict[str, str] = {}

        def live() -> None:
            err().print(f"following {chat} live — Ctrl-C to stop", markup=False)
            sys.stderr.flush()

        def status(degraded: bool) -> None:
            if degraded:
                err().print("live delivery degraded: the service cannot reach its event log; waiting", markup=False)
            else:
                err().print("live again: catching up on what was missed", markup=False)
            sys.stderr.flush()

        async for message in follow_chat(parta, chat_id, last, count, on_live=live, on_status=status):
            if message.sender_user_id and message.sender_user_id not in names:
                names.update(await display_names(parta, [message.sender_user_id]))
            if STATE.json:
                typer.echo(json.dumps(to_plain(message), ensure_ascii=False))
            else:
                out().print(message_line(message, names), markup=False)
            sys.stdout.flush()

    run(action)


# -- files ------------------------------------------------------------------------------------------


def guess_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


async def upload_chunks(path: Path, request_id: str, content_type: str) -> AsyncIterator[chat_pb2.UploadFileRequest]:
    size = path.stat().st_size
    yield chat_pb2.UploadFileRequest(
        metadata=chat_pb2.UploadMetadata(
            request_id=request_id, filename=path.name, content_type=content_type, size_bytes=size
        )
    )
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=offset, data=chunk))
            offset += len(chunk)


def show_file(info: chat_pb2.FileInfo) -> None:
    out().print(
        f"{info.file_id}  {info.filename}  {info.size_bytes} bytes  {info.content_type}  sha256 {info.sha256_hex}",
        markup=False,
    )


@file_app.command("upload")
def file_upload(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    content_type: Annotated[str, typer.Option("--content-type")] = "",
    chat: Annotated[str, typer.Option(help="Also send it into this chat.")] = "",
    text: Annotated[str, typer.Option(help="Message text when sending into a chat.")] = "",
) -> None:
    """Upload a file to your personal storage (and optionally send it into a chat)."""

    async def action(parta: Parta) -> None:
        reply = await parta.files.UploadFile(
            upload_chunks(path, new_request_id(), content_type or guess_type(path)), timeout=300
        )
        sent = None
        if chat:
            chat_id = await chat_by_ref(parta, chat)
            sent = await parta.chats.SendMessage(
                chat_pb2.SendMessageRequest(
                    chat_id=chat_id,
                    client_message_id=new_request_id(),
                    text=text or path.name,
                    file_ids=[reply.file.file_id],
                )
            )

        def human() -> None:
            show_file(reply.file)
            if sent is not None:
                out().print(f"Sent into the chat as #{sent.message.seq}.")

        emit({"file": reply.file, "message": sent.message if sent else None}, human)

    run(action)


@file_app.command("download")
def file_download(file_id: str, path: Annotated[Path, typer.Argument(dir_okay=True)]) -> None:
    """Download a file (yours, or shared in one of your chats); checks its SHA-256."""

    async def action(parta: Parta) -> None:
        info: chat_pb2.FileInfo | None = None
        target = path
        digest = hashlib.sha256()
        partial: Path | None = None
        handle = None
        try:
            async for part in parta.files.DownloadFile(chat_pb2.DownloadFileRequest(file_id=file_id), timeout=300):
                if part.WhichOneof("part") == "info":
                    info = part.info
                    if target.is_dir():
                        target = target / Path(info.filename).name
                    partial = target.with_name(f".{target.name}.part")
                    handle = partial.open("wb")
                elif handle is not None:
                    handle.write(part.chunk.data)
                    digest.update(part.chunk.data)
            if handle is not None:
                handle.close()
                handle = None
            if info is None or partial is None:
                raise UsageError("the service sent no file")
            if info.sha256_hex and digest.hexdigest() != info.sha256_hex:
                raise UsageError("download corrupted: SHA-256 does not match; try again")
            os.replace(partial, target)
            partial = None
        finally:
            if handle is not None:
                handle.close()
            if partial is not None:
                partial.unlink(missing_ok=True)
        emit({"file": info, "path": str(target)}, lambda: out().print(f"Saved {target} ({info.size_bytes} bytes)."))

    run(action)


@file_app.command("list")
def file_list() -> None:
    """Your personal storage."""

    async def action(parta: Parta) -> None:
        reply = await parta.files.ListFiles(chat_pb2.ListFilesRequest(page_size=100))

        def human() -> None:
            for info in reply.files:
                show_file(info)
            out().print(f"{reply.quota_used_bytes} of {reply.quota_bytes} bytes used")

        emit(reply, human)

    run(action)


# -- lessons ----------------------------------------------------------------------------------------

ROOM_STATES = {1: "scheduled", 2: "live", 3: "ended"}


def show_room(room: media_signal_pb2.Room) -> None:
    state = ROOM_STATES.get(room.state, "?")
    at = when(room.started_at) or when(room.scheduled_for)
    out().print(f"{room.title} — {state} {at} (room {room.room_id})")


@lesson_app.command("schedule")
def lesson_schedule(
    class_: Annotated[str, typer.Option("--class", help="The class.")],
    title: Annotated[str, typer.Option(help="e.g. Математика.")],
    at: Annotated[str, typer.Option(help="When: +1h, or 2026-12-01T09:00 (school's time).")] = "",
    now: Annotated[bool, typer.Option("--now", help="Start it right away.")] = False,
    waiting_room: Annotated[bool, typer.Option("--waiting-room")] = False,
    request_id: Annotated[str, typer.Option("--request-id")] = "",
) -> None:
    """Schedule a lesson for a class (its verified teachers, admins)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_)
        request = media_signal_pb2.CreateRoomRequest(
            request_id=request_id or new_request_id(),
            school_id=school_id,
            class_id=class_id,
            kind=room_events.ROOM_KIND_LESSON,
            title=title,
            waiting_room=waiting_room,
            start_now=now,
        )
        if at:
            school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))).school
            request.scheduled_for.FromDatetime(parse_when(at, school.timezone).replace(tzinfo=None))
        reply = await parta.rooms.CreateRoom(request)
        emit(reply.room, lambda: show_room(reply.room))

    run(action)


@lesson_app.command("start")
def lesson_start(room_id: str) -> None:
    """Start a scheduled lesson (its host)."""

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.StartRoom(media_signal_pb2.StartRoomRequest(room_id=room_id))
        emit(reply.room, lambda: show_room(reply.room))

    run(action)


@lesson_app.command("end")
def lesson_end(room_id: str) -> None:
    """End a lesson for everyone (its host)."""

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.EndRoom(media_signal_pb2.EndRoomRequest(room_id=room_id))
        emit(reply.room, lambda: show_room(reply.room))

    run(action)


async def rooms_of(
    parta: Parta, kind: room_events.RoomKind.ValueType, class_ref: str, ended: bool
) -> list[media_signal_pb2.Room]:
    """Every room of one kind in the current school that I could join, through all pages."""
    school_id = await current_school(parta)
    class_id = await class_by_ref(parta, school_id, class_ref) if class_ref else ""
    states = [media_signal_pb2.ROOM_STATE_ENDED] if ended else []
    return await every_page(
        lambda page: parta.rooms.ListRooms(
            media_signal_pb2.ListRoomsRequest(
                school_id=school_id, class_id=class_id, kinds=[kind], states=states, page=page
            )
        ),
        "rooms",
    )


def print_rooms(rooms: list[media_signal_pb2.Room]) -> None:
    table = grid("room id", "title", "state", "when")
    for room in rooms:
        at = when(room.ended_at) if room.state == media_signal_pb2.ROOM_STATE_ENDED else when(room.started_at)
        table.add_row(room.room_id, room.title, ROOM_STATES.get(room.state, "?"), at or when(room.scheduled_for))
    out().print(table)


def list_rooms(kind: room_events.RoomKind.ValueType, class_ref: str, ended: bool) -> None:
    async def action(parta: Parta) -> None:
        rooms = await rooms_of(parta, kind, class_ref, ended)
        emit(rooms, lambda: print_rooms(rooms))

    run(action)


ENDED_OPTION = typer.Option("--ended", help="Ended ones instead of live and scheduled.")


@lesson_app.command("list")
def lesson_list(
    class_: Annotated[str, typer.Option("--class", help="Only this class.")] = "",
    ended: Annotated[bool, ENDED_OPTION] = False,
) -> None:
    """Lessons I can join: live first, then by time."""
    list_rooms(room_events.ROOM_KIND_LESSON, class_, ended)


@lesson_app.command("show")
def lesson_show(room_id: str) -> None:
    """A lesson's state."""

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))
        emit(reply.room, lambda: show_room(reply.room))

    run(action)


# -- calls and broadcasts ---------------------------------------------------------------------------

ROOM_KINDS = {
    room_events.ROOM_KIND_CALL: "call",
    room_events.ROOM_KIND_LESSON: "lesson",
    room_events.ROOM_KIND_BROADCAST: "broadcast",
}
MEDIA_MODES = {media_signal_pb2.MEDIA_MODE_P2P: "peer-to-peer", media_signal_pb2.MEDIA_MODE_SFU: "through the SFU"}
HIDDEN = "hidden"


def grant_words(grants: media_signal_pb2.Grants) -> str:
    words = [
        word
        for word, granted in (
            ("host", grants.is_host),
            ("publish", grants.can_publish),
            ("subscribe", grants.can_subscribe),
            ("data", grants.can_publish_data),
        )
        if granted
    ]
    if grants.can_subscribe and not grants.can_publish:
        words.append("(viewer)")
    return ", ".join(words) or "none"


def redact_join(
    reply: media_signal_pb2.CreateJoinTokenResponse, reveal: bool
) -> media_signal_pb2.CreateJoinTokenResponse:
    """The join grant and TURN passwords are credentials: shown only when asked for (--reveal)."""
    copy = media_signal_pb2.CreateJoinTokenResponse()
    copy.CopyFrom(reply)
    if not reveal:
        copy.token = ""
        for server in copy.ice_servers:
            server.credential = ""
    return copy


def join_lines(
    reply: media_signal_pb2.CreateJoinTokenResponse, signal_fallback: str, reveal: bool, now: float | None = None
) -> list[str]:
    """What a media client needs to join: where to signal, the grant, its expiry, ICE/TURN servers."""
    moment = reply.expires_at.ToDatetime(UTC)
    left = moment.timestamp() - (Parta.now() if now is None else now)
    lines = [
        f"Signalling: {reply.signal_address or signal_fallback} (SignalService.Signal; first message join{{token}})",
        f"Grant: {grant_words(reply.grants)}; expires {moment.astimezone():%H:%M:%S} (in {max(left, 0):.0f} s)",
        f"Token: {reply.token}" if reveal else f"Token: {HIDDEN} ({len(reply.token)} characters; --reveal prints it)",
        "ICE servers:" if reply.ice_servers else "ICE servers: none (the service has no STUN/TURN configured)",
    ]
    for server in reply.ice_servers:
        line = f"  {' '.join(server.urls)}"
        if server.username:
            line += f"  username {server.username}  credential {server.credential if reveal else HIDDEN}"
        lines.append(line)
    return lines


def room_lines(room: media_signal_pb2.Room, names: dict[str, str]) -> list[str]:
    def who(user_id: str) -> str:
        return names.get(user_id) or user_id

    kind = ROOM_KINDS.get(room.kind, "room")
    state = ROOM_STATES.get(room.state, "?")
    lines = [f"{room.title} — {kind}, {state}, {MEDIA_MODES.get(room.media_mode, '?')} (room {room.room_id})"]
    lines.append(f"Host: {who(room.host_user_id)}")
    if room.class_id:
        lines.append(f"Class: {room.class_id}")
    elif room.kind == room_events.ROOM_KIND_BROADCAST:
        lines.append("Audience: the whole school")
    if room.invited_user_ids:
        lines.append(f"Invited: {', '.join(who(u) for u in room.invited_user_ids)}")
    if room.presenter_user_ids:
        lines.append(f"Presenters: {', '.join(who(u) for u in room.presenter_user_ids)}")
    times = [
        (label, when(ts))
        for label, ts in (("scheduled", room.scheduled_for), ("started", room.started_at), ("ended", room.ended_at))
    ]
    shown = [f"{label} {value}" for label, value in times if value]
    if shown:
        lines.append(", ".join(shown).capitalize())
    extra = f"At most {room.max_participants} participants"
    lines.append(extra + (", waiting room" if room.waiting_room else ""))
    return lines


def print_lines(lines: Iterable[str]) -> None:
    console = out()
    for line in lines:
        console.print(line, markup=False)


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


async def chat_people(parta: Parta, chat_ref: str, me: str) -> tuple[chat_pb2.ChatView, list[str]]:
    """Whom a call "with a chat" invites: a direct chat's other person, a class chat's members."""
    chat_id = await chat_by_ref(parta, chat_ref)
    view = (await parta.chats.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id))).chat
    if view.chat.kind == chat_events.CHAT_KIND_DIRECT:
        return view, [view.peer_user_id]
    if view.chat.class_id:
        members = await all_members(parta, view.chat.school_id, view.chat.class_id)
        # The parents' chat of a class calls its parents (and teachers); the class chat its students and teachers.
        parents = view.chat.kind == chat_events.CHAT_KIND_CLASS_PARENTS
        keep = {school_events.CLASS_ROLE_PARENT if parents else school_events.CLASS_ROLE_STUDENT}
        keep |= {school_events.CLASS_ROLE_CLASS_HEAD, school_events.CLASS_ROLE_SUBJECT_TEACHER}
        people = [m.user_id for m in members if m.class_role in keep and m.user_id != me]
        return view, list(dict.fromkeys(people))
    raise UsageError(f"the chat {chat_ref!r} does not list its members to the CLI; name the people instead")


async def room_names(parta: Parta, room: media_signal_pb2.Room) -> dict[str, str]:
    return await display_names(parta, [room.host_user_id, *room.invited_user_ids, *room.presenter_user_ids])


def print_join(
    room: media_signal_pb2.Room, reply: media_signal_pb2.CreateJoinTokenResponse, names: dict[str, str], reveal: bool
) -> None:
    def human() -> None:
        console = out()
        for line in room_lines(room, names):
            console.print(line, markup=False)
        for line in join_lines(reply, Endpoints.from_env().media_signal, reveal):
            console.print(line, markup=False)
        console.print("Join with a media client (WebRTC); the CLI carries no audio or video.", markup=False)

    emit({"room": room, "join": redact_join(reply, reveal), "revealed": reveal}, human)


async def join_room(parta: Parta, room_id: str, reveal: bool) -> None:
    room = (await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))).room
    reply = await parta.rooms.CreateJoinToken(media_signal_pb2.CreateJoinTokenRequest(room_id=room_id))
    print_join(room, reply, await room_names(parta, room), reveal)


def room_command(call: Callable[[Parta], Awaitable[media_signal_pb2.Room]]) -> None:
    """Start/end/show: one room in, the room (with names) out."""

    async def action(parta: Parta) -> None:
        room = await call(parta)
        names = await room_names(parta, room)
        emit(room, lambda: print_lines(room_lines(room, names)))

    run(action)


async def get_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


async def start_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.StartRoom(media_signal_pb2.StartRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


async def end_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.EndRoom(media_signal_pb2.EndRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


Reveal = Annotated[
    bool, typer.Option("--reveal", help="Print the join token and TURN passwords (credentials; for a media client).")
]
RoomId = Annotated[str, typer.Argument(help="The room id (printed when it was created).")]


@call_app.command("start")
def call_start(
    people: Annotated[list[str] | None, typer.Argument(help="Whom to call: user ids or names.")] = None,
    chat: Annotated[str, typer.Option(help="Call the other person of a direct chat, or a class chat's people.")] = "",
    title: Annotated[str, typer.Option(help="Shown to the people called (default: their names).")] = "",
    ring: Annotated[bool, typer.Option(help="With --chat: post the room id into the chat.")] = True,
    request_id: Annotated[str, typer.Option("--request-id", help="Idempotency key (a retry returns the call).")] = "",
    reveal: Reveal = False,
) -> None:
    """Start a call now and print what a media client needs to join it (room, grant, ICE servers).

    The school's policy decides who may call whom; a refused pair is CONTACT_NOT_ALLOWED.

    Students reach classmates and their teachers; adults reach a student as the teacher or guardian.
    """

    async def action(parta: Parta) -> None:
        me = parta.require_session().user_id
        view: chat_pb2.ChatView | None = None
        if chat:
            view, invited = await chat_people(parta, chat, me)
            school_id = view.chat.school_id
        else:
            school_id = await current_school(parta)
            invited = []
        invited += await people_by_ref(parta, school_id, people or [])
        invited = [u for u in dict.fromkeys(invited) if u and u != me]
        if not invited:
            raise UsageError("name whom to call (PERSON …, or --chat CHAT)")
        names = await display_names(parta, [me, *invited])
        room_title = title or ", ".join(names.get(u, "?") for u in [me, *invited])[:200]
        reply = await parta.rooms.CreateRoom(
            media_signal_pb2.CreateRoomRequest(
                request_id=request_id or new_request_id(),
                school_id=school_id,
                kind=room_events.ROOM_KIND_CALL,
                title=room_title,
                invited_user_ids=invited,
                start_now=True,
            )
        )
        room = reply.room
        grant = await parta.rooms.CreateJoinToken(media_signal_pb2.CreateJoinTokenRequest(room_id=room.room_id))
        if view is not None and ring:
            # The service has no "ringing": the chat is how the people called learn the room id. The
            # message id comes from the room, so a retried command posts it once.
            try:
                await parta.chats.SendMessage(
                    chat_pb2.SendMessageRequest(
                        chat_id=view.chat.chat_id,
                        client_message_id=f"call-{room.room_id}",
                        text=f"📞 {room.title} — join: parta call join {room.room_id}",
                    )
                )
            except grpc.aio.AioRpcError as error:
                err().print(f"warning: the call is on, but the chat refused the notice: {describe(error).line()}")
        print_join(room, grant, names, reveal)

    run(action)


@call_app.command("list")
def call_list(ended: Annotated[bool, ENDED_OPTION] = False) -> None:
    """Calls I host or am invited to."""
    list_rooms(room_events.ROOM_KIND_CALL, "", ended)


@call_app.command("join")
def call_join(room_id: RoomId, reveal: Reveal = False) -> None:
    """Get your grant for a call you were invited to (checked against the school's policy again)."""
    run(lambda parta: join_room(parta, room_id, reveal))


@call_app.command("show")
def call_show(room_id: RoomId) -> None:
    """A call's state, host and the people invited."""
    room_command(lambda parta: get_room(parta, room_id))


@call_app.command("end")
def call_end(room_id: RoomId) -> None:
    """End a call for everyone (its host)."""
    room_command(lambda parta: end_room(parta, room_id))


@broadcast_app.command("schedule")
def broadcast_schedule(
    title: Annotated[str, typer.Option(help="e.g. Родительское собрание 5А.")],
    class_: Annotated[str, typer.Option("--class", help="A class's (its parents); default: the school.")] = "",
    at: Annotated[str, typer.Option(help="When: +1h, or 2026-12-01T18:00 (school's time).")] = "",
    now: Annotated[bool, typer.Option("--now", help="Start it right away.")] = False,
    presenter: Annotated[
        list[str] | None, typer.Option("--presenter", help="On stage from the start (id or name); repeatable.")
    ] = None,
    max_participants: Annotated[int, typer.Option("--max-participants", help="0: the default (300).")] = 0,
    waiting_room: Annotated[bool, typer.Option("--waiting-room")] = False,
    request_id: Annotated[str, typer.Option("--request-id", help="Idempotency key (a retry returns the room).")] = "",
) -> None:
    """Schedule a broadcast (verified staff; a class's one: its teachers or an admin)."""

    async def action(parta: Parta) -> None:
        school_id = await current_school(parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        request = media_signal_pb2.CreateRoomRequest(
            request_id=request_id or new_request_id(),
            school_id=school_id,
            class_id=class_id,
            kind=room_events.ROOM_KIND_BROADCAST,
            title=title,
            max_participants=max_participants,
            waiting_room=waiting_room,
            presenter_user_ids=await people_by_ref(parta, school_id, presenter or []),
            start_now=now,
        )
        if at:
            school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))).school
            request.scheduled_for.FromDatetime(parse_when(at, school.timezone).replace(tzinfo=None))
        room = (await parta.rooms.CreateRoom(request)).room
        names = await room_names(parta, room)
        emit(room, lambda: print_lines(room_lines(room, names)))

    run(action)


@broadcast_app.command("list")
def broadcast_list(
    class_: Annotated[str, typer.Option("--class", help="Only this class's meetings.")] = "",
    ended: Annotated[bool, ENDED_OPTION] = False,
) -> None:
    """Broadcasts I can watch or present in."""
    list_rooms(room_events.ROOM_KIND_BROADCAST, class_, ended)


@broadcast_app.command("start")
def broadcast_start(room_id: RoomId) -> None:
    """Go live (the host)."""
    room_command(lambda parta: start_room(parta, room_id))


@broadcast_app.command("show")
def broadcast_show(room_id: RoomId) -> None:
    """A broadcast's state, host, audience and presenters."""
    room_command(lambda parta: get_room(parta, room_id))


@broadcast_app.command("end")
def broadcast_end(room_id: RoomId) -> None:
    """End a broadcast for everyone (the host)."""
    room_command(lambda parta: end_room(parta, room_id))


@broadcast_app.command("join")
def broadcast_join(room_id: RoomId, reveal: Reveal = False) -> None:
    """Your grant for a live broadcast: host, presenter (publish) or viewer (subscribe only)."""
    run(lambda parta: join_room(parta, room_id, reveal))


def participant_row(p: media_signal_pb2.Participant, names: dict[str, str]) -> list[str]:
    waiting = p.status == media_signal_pb2.PARTICIPANT_STATUS_WAITING
    role = "host" if p.grants.is_host else "on stage" if p.grants.can_publish else "viewer"
    muted = [track for track, on in (("audio", p.audio_muted), ("video", p.video_muted)) if on]
    return [
        names.get(p.user_id) or p.user_id,
        "waiting" if waiting else role,
        "raised" if p.hand_raised else "",
        "yes" if p.publishing else "",
        ", ".join(muted),
        p.participant_id,
    ]


@broadcast_app.command("people")
def broadcast_people(room_id: RoomId) -> None:
    """Who is in a live broadcast: on stage, viewers, raised hands.

    Joins briefly without media. Hosts also see the waiting room.
    """

    async def action(parta: Parta) -> None:
        async with SignalSession(parta, room_id) as session:
            me = session.participant_id
            present = [p for p in session.participants.values() if p.participant_id != me]
        names = await display_names(parta, (p.user_id for p in present))

        def human() -> None:
            table = grid("person", "role", "hand", "publishing", "muted", "participant id")
            for p in present:
                table.add_row(*participant_row(p, names))
            out().print(table)

        emit(present, human)

    run(action)


@broadcast_app.command("stage")
def broadcast_stage(
    room_id: RoomId,
    person: Annotated[str, typer.Argument(help="Who (id or name); they must be in the broadcast now.")],
    off: Annotated[bool, typer.Option("--off", help="Take them off the stage (back to viewer).")] = False,
) -> None:
    """Put someone who is watching on stage (publish) or take them off (the host; joins briefly, no media)."""

    async def action(parta: Parta) -> None:
        room = await get_room(parta, room_id)
        user_id = (await people_by_ref(parta, room.school_id, [person]))[0]
        async with SignalSession(parta, room_id) as session:
            seats = [p for p in session.participants.values() if p.user_id == user_id]
            if not seats:
                raise UsageError(f"{person} is not in the broadcast now (stage is for people who are watching)")
            verb = media_signal_pb2.HOST_ACTION_TYPE_DEMOTE if off else media_signal_pb2.HOST_ACTION_TYPE_PROMOTE
            updated: list[media_signal_pb2.Participant] = []
            for seat in seats:  # every device the person watches on
                answer = await session.host_action(verb, seat.participant_id)
                if answer.WhichOneof("message") == "error":
                    raise refused(answer.error)
                if answer.WhichOneof("message") == "participant_updated":
                    updated.append(answer.participant_updated.participant)
        names = await display_names(parta, [user_id])

        def human() -> None:
            where = "off the stage" if off else "on stage"
            out().print(f"{names.get(user_id) or user_id} is {where} ({len(updated)} device(s)).", markup=False)

        emit(updated, human)

    run(action)


@lesson_app.command("join")
def lesson_join(room_id: RoomId, reveal: Reveal = False) -> None:
    """Your grant for a live lesson (its class's students and teachers; admins observe)."""
    run(lambda parta: join_room(parta, room_id, reveal))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
