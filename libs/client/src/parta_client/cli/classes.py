"""`parta class`: classes of the current school."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out
from parta_client.cli.lookup import all_classes, class_by_ref, current_school, person_by_ref
from parta_client.client import Parta, new_request_id
from parta_client.resolve import parse_class_name

class_app = typer.Typer(help="Classes of the current school.", no_args_is_help=True)


@class_app.command("create")
def class_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Grade and letter, e.g. 5А.")],
    request_id: Annotated[str, typer.Option("--request-id")] = "",
) -> None:
    """Create a class (admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        grade, letter = parse_class_name(name)
        school_id = await current_school(cli, parta)
        reply = await parta.classes.CreateClass(
            school_pb2.CreateClassRequest(
                request_id=request_id or new_request_id(), school_id=school_id, grade=grade, letter=letter
            )
        )
        created = getattr(reply, "class")
        cli.emit(created, lambda: out().print(f"Class {created.title} created ({created.class_id})."))

    cli.run(action)


@class_app.command("list")
def class_list(ctx: typer.Context) -> None:
    """Classes of the current school."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        classes = await all_classes(parta, await current_school(cli, parta))

        def human() -> None:
            table = grid("class", "year", "class id")
            for c in classes:
                table.add_row(c.title, c.academic_year, c.class_id)
            out().print(table)

        cli.emit(classes, human)

    cli.run(action)


@class_app.command("head")
def class_head(ctx: typer.Context, class_: Annotated[str, typer.Argument(metavar="CLASS")], person: str) -> None:
    """Make a teacher the class head (admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        class_id = await class_by_ref(parta, school_id, class_)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.classes.SetClassHead(school_pb2.SetClassHeadRequest(class_id=class_id, user_id=user_id))
        cli.emit({"class_id": class_id, "class_head": user_id}, lambda: out().print("Class head set."))

    cli.run(action)


@class_app.command("teacher")
def class_teacher(
    ctx: typer.Context,
    class_: Annotated[str, typer.Argument(metavar="CLASS")],
    person: str,
    subject: Annotated[str, typer.Option(help="What they teach, e.g. Математика.")],
) -> None:
    """Add a subject teacher to a class (admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        class_id = await class_by_ref(parta, school_id, class_)
        user_id = await person_by_ref(parta, school_id, person)
        await parta.classes.AddSubjectTeacher(
            school_pb2.AddSubjectTeacherRequest(class_id=class_id, user_id=user_id, subject=subject)
        )
        cli.emit({"class_id": class_id, "teacher": user_id}, lambda: out().print(f"{subject} teacher added."))

    cli.run(action)
