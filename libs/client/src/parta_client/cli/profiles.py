"""`parta profile`: your educational profile."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.identity.v1 import profiles_pb2
from rich.table import Table

from parta_client.cli.context import Cli, out
from parta_client.client import Parta, new_request_id

profile_app = typer.Typer(help="Your educational profile.", no_args_is_help=True)


def show_profile(profile: profiles_pb2.Profile) -> None:
    table = Table(show_header=False)
    table.add_row("name", " ".join(p for p in (profile.last_name, profile.first_name, profile.patronymic) if p))
    table.add_row("birth date", profile.birth_date)
    table.add_row("user id", profile.user_id)
    table.add_row("consent", "awaiting guardian" if profile.consent_state == 2 else "ok")
    out().print(table)


@profile_app.command("create")
def profile_create(
    ctx: typer.Context,
    first_name: str,
    last_name: str,
    birth_date: Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD")],
    patronymic: Annotated[str, typer.Option()] = "",
) -> None:
    """Create your educational profile (once, after the first sign-in)."""
    cli = Cli.of(ctx)

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
        cli.emit(reply.profile, lambda: show_profile(reply.profile))

    cli.run(action)


@profile_app.command("show")
def profile_show(ctx: typer.Context) -> None:
    """Show your educational profile."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        profile = (await parta.profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest())).profile
        cli.emit(profile, lambda: show_profile(profile))

    cli.run(action)
