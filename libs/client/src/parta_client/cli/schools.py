"""`parta school`: register, list, show, choose, members, a new academic year, staff and the admin seat."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

import typer
from parta.school.v1 import school_pb2
from rich.table import Table

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import (
    CLASS_ROLE_NAMES,
    ROLE_NAMES,
    all_members,
    class_by_ref,
    current_school,
    display_names,
    every_page,
    person_by_ref,
    school_by_ref,
)
from parta_client.client import Parta, new_request_id
from parta_client.devsms import mask_phone, normalize_phone

school_app = typer.Typer(help="Schools: register (operators), show, choose, verify staff.", no_args_is_help=True)


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
        ("locale", school.locale),
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
    ctx: typer.Context,
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
    cli = Cli.of(ctx)

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
        cli.emit(reply.school, lambda: show_school(reply.school))

    cli.run(action)


@school_app.command("list")
def school_list(ctx: typer.Context) -> None:
    """Schools you belong to (claims an admin role waiting for your phone)."""
    cli = Cli.of(ctx)

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

        cli.emit(list(reply.schools), human)

    cli.run(action)


@school_app.command("show")
def school_show(
    ctx: typer.Context, school: Annotated[str, typer.Argument(help="Id or name (default: current).")] = ""
) -> None:
    """Show a school you belong to."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, school) if school else await current_school(cli, parta)
        reply = await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))
        mine = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())
        roles = next((list(s.roles) for s in mine.schools if s.school.school_id == school_id), [])
        cli.emit(reply.school, lambda: show_school(reply.school, roles))

    cli.run(action)


@school_app.command("use")
def school_use(ctx: typer.Context, school: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Choose the school later commands act on (kept in the profile)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, school)
        parta.require_session().school_id = school_id
        parta.save_session()
        cli.emit({"school_id": school_id}, lambda: out().print(f"Current school: {school_id}"))

    cli.run(action)


@school_app.command("members")
def school_members(
    ctx: typer.Context, class_: Annotated[str, typer.Option("--class", help="Only this class.")] = ""
) -> None:
    """Members of the school (school-level roles) or of one class."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
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

        cli.emit(members, human)

    cli.run(action)


@school_app.command("new-year")
def school_new_year(
    ctx: typer.Context,
    academic_year: Annotated[str, typer.Argument(help='The next academic year, e.g. "2027/2028".')],
    request_id: Annotated[str, typer.Option("--request-id", help="Retry-safe id (default: random).")] = "",
) -> None:
    """Start the next academic year (admins): classes move up a grade, the 11th graduates. Safe to repeat:
    the same year again finishes an interrupted rollover and shows its result."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
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

        cli.emit(reply, human)

    cli.run(action)


@school_app.command("verify")
def school_verify(
    ctx: typer.Context, person: Annotated[str, typer.Argument(help="User id or name of a teacher.")]
) -> None:
    """Verify a staff member (admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.schools.VerifyStaff(school_pb2.VerifyStaffRequest(school_id=school_id, user_id=user_id))
        cli.emit({"verified": user_id}, lambda: out().print(f"Verified {user_id}."))

    cli.run(action)


@school_app.command("appoint-admin")
def school_appoint_admin(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="User id or name of a staff member.")] = "",
    phone: Annotated[str, typer.Option("--phone", help="Operators, school without admin: the successor's phone.")] = "",
    school: Annotated[str, typer.Option("--school", help="School id (operators are not members).")] = "",
) -> None:
    """Make a staff member an admin too (admins), or fill a vacant admin seat (operators)."""
    cli = Cli.of(ctx)
    if bool(person) == bool(phone):
        raise typer.BadParameter("name a staff member or give --phone, not both")

    async def action(parta: Parta) -> None:
        school_id = school or await current_school(cli, parta)
        if phone:
            # The successor becomes admin when they sign in with this phone (as with a new school).
            request = school_pb2.AppointAdminRequest(school_id=school_id, admin_phone=normalize_phone(phone))
            await parta.schools.AppointAdmin(request)
            masked = mask_phone(request.admin_phone)
            cli.emit({"admin_phone": masked}, lambda: out().print(f"{masked} becomes admin on signing in."))
            return
        # An operator is no member: with --school, PERSON must be the user id itself.
        user_id = person if school else await person_by_ref(parta, school_id, person)
        await parta.schools.AppointAdmin(school_pb2.AppointAdminRequest(school_id=school_id, user_id=user_id))
        cli.emit({"admin": user_id}, lambda: out().print(f"{user_id} is now an admin."))

    cli.run(action)


@school_app.command("vacant")
def school_vacant(ctx: typer.Context) -> None:
    """Schools whose last admin is gone (operators): appoint a successor with appoint-admin."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        schools: list[school_pb2.School] = await every_page(
            lambda page: parta.schools.ListVacantSchools(school_pb2.ListVacantSchoolsRequest(page=page)), "schools"
        )

        def human() -> None:
            table = grid("school id", "name", "region", "vacant since")
            for school in schools:
                table.add_row(school.school_id, school.name, school.region, when(school.admin_vacant_since))
            out().print(table)

        cli.emit(schools, human)

    cli.run(action)
