"""`parta school locale`: the language of the texts the server writes into the school's chats (admins)."""

from __future__ import annotations

from typing import Annotated

import typer
from google.protobuf.field_mask_pb2 import FieldMask
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, out
from parta_client.cli.lookup import current_school
from parta_client.client import Parta

locale_app = typer.Typer(
    help="The language of system messages in the school's chats: ru (default) or en (admins set it).",
    no_args_is_help=True,
)


def _shown(school: school_pb2.School) -> str:
    return school.locale or "ru"


@locale_app.command("show")
def school_locale_show(ctx: typer.Context) -> None:
    """The current school's locale."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))).school
        cli.emit(school, lambda: out().print(_shown(school)))

    cli.run(action)


@locale_app.command("set")
def school_locale_set(
    ctx: typer.Context,
    locale: Annotated[str, typer.Argument(help="ru or en.")],
) -> None:
    """Write the school's system messages (joins, lessons, reminders) in this language from now on
    (admins). Messages already written keep their text; clients may still show each note in the
    reader's own language."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        request = school_pb2.UpdateSchoolRequest(
            school=school_pb2.School(school_id=school_id, locale=locale), update_mask=FieldMask(paths=["locale"])
        )
        school = (await parta.schools.UpdateSchool(request)).school
        cli.emit(school, lambda: out().print(f"locale: {_shown(school)}"))

    cli.run(action)
