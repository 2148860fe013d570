"""The demo school for `make run`, seeded through the public gRPC APIs with the Parta client SDK.

    python deploy/local/demo.py --sms-file .cache/run/dev-sms.jsonl [--force]

Школа № 17: the operator registers it with Ирина's phone; Ирина (admin) creates 5А, 5Б and 9А and a
teacher invite; Ольга (class head of 5А) and Павел (maths in 5А) join and are verified; five students
ask to join 5А with Ольга's invite and she approves them; each student's parent joins by a parent invite
bound to the child, links to the child (the school vouches) and consents (the students are 11-12, below
the consent age); the school channel, 5А's chat and its parents' chat get some history; Павел schedules
a maths lesson for tomorrow 09:00 (when media-signal runs); Ольга sets 5А's weekly timetable, from which
media-signal makes the next 7 days' lessons. Then a table of everyone and how to sign in.

Idempotent: every create carries a fixed request id (a rerun returns the first result, sends no
duplicate message), and .cache/run/demo.json remembers a finished seed: a rerun checks that the school
still exists (a public invite preview, no sign-in) and only prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import grpc
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta.identity.v1 import guardians_pb2, profiles_pb2
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, timetable_pb2
from parta_client import DevSmsFile, Endpoints, Parta
from parta_client.errors import describe

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MARKER = ROOT / ".cache" / "run" / "demo.json"
OPERATOR_PHONE = "+79000000001"  # must equal SCHOOL_OPERATOR_PHONES of the school process (stack.py)
SCHOOL_NAME = "Школа № 17"
TIMEZONE = "Europe/Moscow"
WAIT = 60.0  # seconds to wait for another service to learn something from Kafka

T = TypeVar("T")


@dataclass
class Person:
    key: str
    role: str
    first: str
    last: str
    patronymic: str
    birth: str
    phone: str
    note: str = ""
    user_id: str = ""
    client: Parta | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def api(self) -> Parta:
        assert self.client is not None, f"{self.key} is not signed in"
        return self.client


STAFF = [
    Person("irina", "admin", "Ирина", "Петрова", "Сергеевна", "1979-03-14", "+79000000002", "school admin"),
    Person("olga", "teacher", "Ольга", "Смирнова", "Викторовна", "1986-09-01", "+79000000003", "class head of 5А"),
    Person("pavel", "teacher", "Павел", "Орлов", "Андреевич", "1990-11-23", "+79000000004", "maths in 5А"),
]
STUDENTS = [
    Person("misha", "student", "Миша", "Иванов", "", "2015-02-03", "+79000000011", "5А"),
    Person("lena", "student", "Лена", "Кузнецова", "", "2014-10-17", "+79000000012", "5А"),
    Person("artem", "student", "Артём", "Соколов", "", "2015-05-09", "+79000000013", "5А"),
    Person("dasha", "student", "Даша", "Попова", "", "2014-12-28", "+79000000014", "5А"),
    Person("vanya", "student", "Ваня", "Новиков", "", "2015-07-30", "+79000000015", "5А"),
]
PARENTS = [
    Person("anna", "parent", "Анна", "Иванова", "Павловна", "1988-06-20", "+79000000021", "Миша's mother"),
    Person("sergey", "parent", "Сергей", "Кузнецов", "Игоревич", "1984-01-11", "+79000000022", "Лена's father"),
    Person("maria", "parent", "Мария", "Соколова", "Олеговна", "1990-04-05", "+79000000023", "Артём's mother"),
    Person("elena", "parent", "Елена", "Попова", "Юрьевна", "1987-08-15", "+79000000024", "Даша's mother"),
    Person("dmitry", "parent", "Дмитрий", "Новиков", "Ильич", "1983-02-27", "+79000000025", "Ваня's father"),
]
EVERYONE = [*STAFF, *STUDENTS, *PARENTS]
# 5А's week: (ISO weekday, start, subject, teacher's key), 45 minutes each, from 10:00 so that no
# timetable lesson overlaps the maths lesson Павел schedules by hand for tomorrow 09:00.
WEEK = [
    (1, "10:00", "Математика", "pavel"),
    (1, "11:00", "Русский язык", "olga"),
    (2, "10:00", "Литература", "olga"),
    (2, "11:00", "Математика", "pavel"),
    (3, "10:00", "Математика", "pavel"),
    (3, "11:00", "Русский язык", "olga"),
    (4, "10:00", "Русский язык", "olga"),
    (4, "11:00", "Математика", "pavel"),
    (5, "10:00", "Математика", "pavel"),
    (5, "11:00", "Литература", "olga"),
]
LESSON_MINUTES = 45
OPERATOR = Person("operator", "operator", "Оператор", "региона", "", "1980-01-01", OPERATOR_PHONE)


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


async def until(what: str, attempt: Callable[[], Awaitable[T | None]], retry_on: tuple[str, ...] = ()) -> T:
    """Retries `attempt` until it gives a value. None, or an error whose status code or reason is in
    `retry_on`, means "not yet": another service has not learnt something from Kafka."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            value = await attempt()
            if value is not None:
                return value
        except grpc.aio.AioRpcError as error:
            failure = describe(error)
            if failure.code not in retry_on and failure.reason not in retry_on:
                raise
        if time.monotonic() > deadline:
            raise SystemExit(f"[demo] gave up waiting: {what}")
        await asyncio.sleep(0.5)


async def sign_in(person: Person, codes: DevSmsFile, endpoints: Endpoints) -> None:
    client = Parta(endpoints)  # sessions stay in memory: the demo leaves no profiles behind
    client.open()
    reply = await client.sign_in(person.phone, codes, device_name="demo seed")
    person.client, person.user_id = client, reply.user_id
    await client.profiles.CreateProfile(
        profiles_pb2.CreateProfileRequest(
            request_id=f"demo-profile-{person.key}",
            first_name=person.first,
            last_name=person.last,
            patronymic=person.patronymic,
            birth_date=person.birth,
        )
    )


def current_academic_year() -> str:
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}/{start + 1}"


def term_end() -> date:
    """The last day of the current academic year (31 August), the demo timetable's last day."""
    return date(int(current_academic_year()[5:]), 8, 31)


async def seed(codes: DevSmsFile, endpoints: Endpoints) -> dict[str, Any]:
    irina, olga, pavel = STAFF
    operator = OPERATOR

    say("the operator registers the school")
    await sign_in(operator, codes, endpoints)
    school = (
        await operator.api.schools.RegisterSchool(
            school_pb2.RegisterSchoolRequest(
                request_id="demo-school-17",
                name=SCHOOL_NAME,
                short_name="Школа 17",
                region="Свердловская область",
                address="г. Екатеринбург, ул. Ленина, 17",
                timezone=TIMEZONE,
                academic_year=current_academic_year(),
                admin_phone=irina.phone,
            )
        )
    ).school
    school_id = school.school_id

    say("Ирина signs in (her phone makes her the admin) and creates the classes")
    await sign_in(irina, codes, endpoints)
    await irina.api.schools.ClaimPendingRoles(school_pb2.ClaimPendingRolesRequest())
    classes = {}
    for grade, letter in ((5, "А"), (5, "Б"), (9, "А")):
        reply = await irina.api.classes.CreateClass(
            school_pb2.CreateClassRequest(
                request_id=f"demo-class-{grade}{letter}", school_id=school_id, grade=grade, letter=letter
            )
        )
        classes[f"{grade}{letter}"] = getattr(reply, "class").class_id
    c5a = classes["5А"]
    teachers_invite = await irina.api.invites.CreateInvite(
        school_pb2.CreateInviteRequest(
            request_id="demo-invite-teachers",
            school_id=school_id,
            role=school_events.SCHOOL_ROLE_TEACHER,
            ttl_seconds=7 * 86400,
            max_uses=50,
        )
    )

    say("Ольга and Павел join by the teacher invite; Ирина verifies them and gives them 5А")
    for teacher in (olga, pavel):
        await sign_in(teacher, codes, endpoints)
        await teacher.api.invites.AcceptInvite(school_pb2.AcceptInviteRequest(token=teachers_invite.token))
        await irina.api.schools.VerifyStaff(school_pb2.VerifyStaffRequest(school_id=school_id, user_id=teacher.user_id))
    await irina.api.classes.SetClassHead(school_pb2.SetClassHeadRequest(class_id=c5a, user_id=olga.user_id))
    await irina.api.classes.AddSubjectTeacher(
        school_pb2.AddSubjectTeacherRequest(class_id=c5a, user_id=pavel.user_id, subject="Математика")
    )

    say("five students ask to join 5А; Ольга approves them")
    students_invite = await olga.api.invites.CreateInvite(
        school_pb2.CreateInviteRequest(
            request_id="demo-invite-5А-students",
            school_id=school_id,
            class_id=c5a,
            role=school_events.SCHOOL_ROLE_STUDENT,
            ttl_seconds=7 * 86400,
            max_uses=40,
            requires_approval=True,
        )
    )
    await asyncio.gather(*(sign_in(s, codes, endpoints) for s in STUDENTS))
    for student in STUDENTS:
        await student.api.invites.AcceptInvite(school_pb2.AcceptInviteRequest(token=students_invite.token))
    pending = await olga.api.join_requests.ListJoinRequests(
        school_pb2.ListJoinRequestsRequest(
            school_id=school_id, class_id=c5a, state=school_events.JOIN_REQUEST_STATE_PENDING
        )
    )
    for request in pending.join_requests:
        await olga.api.join_requests.ApproveJoinRequest(
            school_pb2.ApproveJoinRequestRequest(join_request_id=request.join_request_id)
        )

    say("each parent joins by an invite bound to the child, links to the child and consents")
    await asyncio.gather(*(sign_in(p, codes, endpoints) for p in PARENTS))
    for student, parent in zip(STUDENTS, PARENTS, strict=True):
        invite = await olga.api.invites.CreateInvite(
            school_pb2.CreateInviteRequest(
                request_id=f"demo-invite-parent-{student.key}",
                school_id=school_id,
                class_id=c5a,
                role=school_events.SCHOOL_ROLE_PARENT,
                child_user_id=student.user_id,
                ttl_seconds=7 * 86400,
                max_uses=2,
            )
        )
        await parent.api.invites.AcceptInvite(school_pb2.AcceptInviteRequest(token=invite.token))
    await asyncio.gather(*(link_guardian(s, p) for s, p in zip(STUDENTS, PARENTS, strict=True)))

    say("the first messages")
    await post(irina, "school", "demo-msg-school-1", "Добро пожаловать в Parta! Здесь объявления школы № 17.")
    await post(irina, "school", "demo-msg-school-2", "Торжественная линейка — 1 сентября в 9:00 во дворе школы.")
    await post(olga, "5А", "demo-msg-5a-1", "Здравствуйте, ребята! Это чат нашего 5А.")
    await post(STUDENTS[0], "5А", "demo-msg-5a-2", "Здравствуйте, Ольга Викторовна!")
    await post(pavel, "5А", "demo-msg-5a-3", "В пятницу самостоятельная по дробям, повторите §12.")
    await post(olga, "5А — родители", "demo-msg-5ap-1", "Уважаемые родители! Собрание в четверг в 18:30, каб. 21.")
    await post(PARENTS[0], "5А — родители", "demo-msg-5ap-2", "Спасибо, будем.")

    lesson = await schedule_lesson(pavel, school_id, c5a)
    timetable = await set_timetable(olga, c5a)
    return {
        "school_id": school_id,
        "class_5a": c5a,
        "timetable_slots": timetable,
        "teachers_invite": teachers_invite.link,
        "teachers_invite_token": teachers_invite.token,
        "lesson_room_id": lesson,
        "people": {p.key: p.user_id for p in EVERYONE},
    }


async def link_guardian(child: Person, parent: Person) -> None:
    # identity vouches for the link from its projection of school's memberships: once the parent can
    # see the child's name, it knows the parent seat (same projection), so the link is confirmed at once.
    async def sees_child() -> bool | None:
        names = await parent.api.profiles.BatchGetDisplayNames(
            profiles_pb2.BatchGetDisplayNamesRequest(user_ids=[child.user_id])
        )
        return True if names.names else None

    await until(f"identity learns {parent.name} is {child.name}'s parent", sees_child)
    children = await parent.api.guardians.ListMyChildren(guardians_pb2.ListMyChildrenRequest())
    link = next((x for x in children.links if x.child_user_id == child.user_id), None)
    if link is None or link.state != guardians_pb2.GUARDIAN_LINK_STATE_LINKED:
        await parent.api.guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(child_phone=child.phone))
    if link is None or not link.consent_granted:
        await parent.api.guardians.GrantConsent(guardians_pb2.GrantConsentRequest(child_user_id=child.user_id))


async def post(person: Person, chat: str, message_id: str, text: str) -> None:
    """Sends once (fixed client message id), after chat has provisioned the chat and this member."""
    kinds = {"school": chat_events.CHAT_KIND_SCHOOL_CHANNEL}

    async def chat_id() -> str | None:
        views = await person.api.chats.ListChats(chat_pb2.ListChatsRequest())
        for view in views.chats:
            if (chat in kinds and view.chat.kind == kinds[chat]) or view.chat.title == chat:
                return view.chat.chat_id if view.can_post else None
        return None

    found = await until(f"chat provisions {chat} for {person.name}", chat_id)

    async def send() -> bool:
        await person.api.chats.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=found, client_message_id=message_id, text=text)
        )
        return True

    # A student may write once chat has learnt the guardian's consent from identity's events, and
    # anyone once chat has projected their profile (identity's topic is consumed apart from school's,
    # so on a loaded machine the membership can be there first: PROFILE_MISSING for a while).
    await until(f"{person.name} may post in {chat}", send, ("AWAITING_GUARDIAN", "PROFILE_MISSING"))


async def schedule_lesson(teacher: Person, school_id: str, class_id: str) -> str:
    tomorrow = datetime.now(ZoneInfo(TIMEZONE)).date() + timedelta(days=1)
    at = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, 0, tzinfo=ZoneInfo(TIMEZONE))
    request = media_signal_pb2.CreateRoomRequest(
        request_id="demo-lesson-maths-5a",
        school_id=school_id,
        class_id=class_id,
        kind=room_events.ROOM_KIND_LESSON,
        title="Математика 5А",
        waiting_room=True,
    )
    request.scheduled_for.FromDatetime(at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None))

    async def create() -> str:
        reply = await teacher.api.rooms.CreateRoom(request)
        return reply.room.room_id

    try:
        # media-signal learns memberships from school's events: not yet known reads as "not allowed".
        room_id = await until("media-signal learns 5А's teachers", create, ("PERMISSION_DENIED", "NOT_FOUND"))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        say("media-signal is not running: no lesson scheduled")
        return ""
    say(f"Павел scheduled «Математика 5А» for {at:%d.%m %H:%M} ({TIMEZONE})")
    return room_id


async def set_timetable(head: Person, class_id: str) -> int:
    """Ольга, the verified class head, sets 5А's week through school's SetTimetable (the same week
    again changes nothing); media-signal makes the lessons of the next 7 days from it (not on weekends)
    and chat announces each in 5А. The term is the whole academic year, to 31 August (a school's
    default ends on 31 May), so the demo shows lessons in summer too. The number of weekly slots."""
    teachers = {p.key: p.user_id for p in STAFF}
    slots = [
        timetable_pb2.TimetableSlot(
            weekday=weekday,
            start_minute=int(start[:2]) * 60 + int(start[3:]),
            duration_minutes=LESSON_MINUTES,
            subject=subject,
            teacher_user_id=teachers[teacher],
        )
        for weekday, start, subject, teacher in WEEK
    ]
    request = timetable_pb2.SetTimetableRequest(class_id=class_id, slots=slots, last_day=term_end().isoformat())
    reply = await head.api.timetables.SetTimetable(request)
    say(f"Ольга set 5А's timetable: {len(reply.timetable.slots)} lessons a week, Monday to Friday from 10:00")
    return len(reply.timetable.slots)


async def still_there(state: dict[str, Any], endpoints: Endpoints) -> bool:
    """The seeded school still exists (the store may have been wiped): a public preview, no sign-in."""
    token = state.get("teachers_invite_token", "")
    if not token:
        return False
    async with Parta(endpoints) as client:
        try:
            preview = await client.invites.PreviewInvite(school_pb2.PreviewInviteRequest(token=token))
        except grpc.aio.AioRpcError:
            return False
    return bool(preview.school_id == state.get("school_id"))


def invite_link(state: dict[str, Any], web_url: str = "") -> str:
    """The teacher invite as a link that opens here: on the local web app when it runs (a marker
    from an earlier seed may hold a link with another base), else what school made."""
    token = state.get("teachers_invite_token", "")
    if web_url and token:
        return f"{web_url.rstrip('/')}/join/{token}"
    return str(state.get("teachers_invite", ""))


def print_people(state: dict[str, Any], sms_file: Path, web_url: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    try:
        sms = sms_file.resolve().relative_to(Path.cwd())
    except ValueError:
        sms = sms_file.resolve()
    parta = ".venv/bin/parta" if (ROOT / ".venv" / "bin" / "parta").exists() else "parta"
    table = Table(title=f"{SCHOOL_NAME} — demo people (sign-in codes go to {sms})")
    for column in ("role", "name", "phone", "", "sign in"):
        table.add_column(column, no_wrap=column == "sign in")
    for person in EVERYONE:
        command = f"{parta} -p {person.key} login {person.phone} --sms-file {sms}"
        table.add_row(person.role, person.name, person.phone, person.note, command)
    operator = f"{parta} -p operator login {OPERATOR_PHONE} --sms-file {sms}"
    table.add_row("operator", "(registers schools)", OPERATOR_PHONE, "", operator)
    console = Console(soft_wrap=False, width=max(Console().width, 160))
    console.print(table)
    print(
        "\nThen, for example:\n"
        f"  {parta} -p olga chats list\n"
        f"  {parta} -p olga history 5А\n"
        f"  {parta} -p olga timetable show 5А    # and the week's lessons: {parta} -p misha lesson list\n"
        f"  {parta} -p misha follow 5А          # and in another terminal: {parta} -p olga send 5А 'Привет!'\n"
        f"  {parta} -p irina invite create --role teacher\n"
        f"Teacher invite: {invite_link(state, web_url)}\n"
        "docs/cli.md lists every command."
    )


async def main_async(args: argparse.Namespace) -> int:
    endpoints = Endpoints.from_env()
    sms_file = Path(args.sms_file)
    marker = Path(args.state)
    if marker.exists() and not args.force:
        state = json.loads(marker.read_text())
        if await still_there(state, endpoints):
            say("the demo school is already seeded")
            print_people(state, sms_file, args.web_url)
            return 0
        say("the demo marker is stale (the school is gone): seeding again")
    started = time.monotonic()
    try:
        state = await seed(DevSmsFile(sms_file), endpoints)
    except grpc.aio.AioRpcError as error:
        print(f"[demo] failed: {describe(error).line()}", file=sys.stderr)
        return 1
    finally:
        for person in [*EVERYONE, OPERATOR]:
            if person.client is not None:
                await person.client.close()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(state, ensure_ascii=False, indent=2))
    say(f"seeded in {time.monotonic() - started:.1f} s")
    print_people(state, sms_file, args.web_url)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sms-file", required=True, help="identity's development SMS file (IDENTITY_DEV_SMS_FILE)")
    parser.add_argument("--force", action="store_true", help="run every step again (still no duplicates)")
    parser.add_argument("--state", default=str(DEFAULT_MARKER), help="where a finished seed is remembered")
    parser.add_argument("--web-url", default="", help="the local web app's URL: invite links are printed for it")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
