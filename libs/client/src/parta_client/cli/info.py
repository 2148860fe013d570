"""`parta school info`: the school's card (members read it, admins fill it in)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from parta.school.v1 import school_pb2
from rich.table import Table

from parta_client.cli.context import Cli, out, when
from parta_client.cli.lookup import current_school
from parta_client.client import Parta

info_app = typer.Typer(help="The school's card: name, address, director, contacts, logo.", no_args_is_help=True)

# Card field → label, in the order the card shows them.
CARD_FIELDS = {
    "full_name": "full name",
    "short_name": "short name",
    "address": "address",
    "director_name": "director",
    "phone": "phone",
    "email": "email",
    "website": "website",
    "description": "description",
}


def show_info(info: school_pb2.SchoolInfo) -> None:
    table = Table(show_header=False)
    for name, label in CARD_FIELDS.items():
        value = getattr(info, name)
        if value:
            table.add_row(label, value)
    if info.HasField("logo"):
        table.add_row("logo", f"{info.logo.content_type}, {info.logo.size_bytes} bytes")
    table.add_row("version", str(info.version) if info.version else "0 (not filled in yet)")
    if info.HasField("updated_at"):
        table.add_row("updated", when(info.updated_at))
    out().print(table)


@info_app.command("show")
def school_info_show(
    ctx: typer.Context,
    save_logo: Annotated[Path | None, typer.Option("--save-logo", help="Also save the logo to this file.")] = None,
) -> None:
    """The current school's card (any member)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.school_info.GetSchoolInfo(school_pb2.GetSchoolInfoRequest(school_id=school_id))
        if save_logo is not None:
            logo = await parta.school_info.GetSchoolLogo(school_pb2.GetSchoolLogoRequest(school_id=school_id))
            save_logo.write_bytes(logo.data)

        def human() -> None:
            show_info(reply.info)
            if save_logo is not None:
                out().print(f"Logo saved to {save_logo}.", markup=False)

        cli.emit(reply.info, human)

    cli.run(action)


@info_app.command("set")
def school_info_set(
    ctx: typer.Context,
    full_name: Annotated[str | None, typer.Option("--full-name", help="Official full name.")] = None,
    short_name: Annotated[str | None, typer.Option("--short-name")] = None,
    address: Annotated[str | None, typer.Option("--address")] = None,
    director: Annotated[str | None, typer.Option("--director", help="The director's full name.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="E.g. +7 (495) 123-45-67.")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    website: Annotated[str | None, typer.Option("--website", help="http:// or https:// address.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    logo: Annotated[
        Path | None,
        typer.Option("--logo", exists=True, dir_okay=False, readable=True, help="PNG, JPEG or WebP, at most 256 KiB."),
    ] = None,
    remove_logo: Annotated[bool, typer.Option("--remove-logo", help="Remove the logo.")] = False,
    if_version: Annotated[
        int | None, typer.Option("--if-version", help="Refuse if the card changed since this version.")
    ] = None,
) -> None:
    """Fill in the current school's card (admins). Only the options given change; "" clears a field."""
    cli = Cli.of(ctx)
    given = {
        "full_name": full_name,
        "short_name": short_name,
        "address": address,
        "director_name": director,
        "phone": phone,
        "email": email,
        "website": website,
        "description": description,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if logo is not None and remove_logo:
        raise typer.BadParameter("--logo and --remove-logo exclude each other")
    paths = list(changes)
    if logo is not None or remove_logo:
        paths.append("logo")
    if not paths:
        raise typer.BadParameter("name at least one field, e.g. --full-name or --logo")
    logo_data = logo.read_bytes() if logo is not None else b""

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        request = school_pb2.UpdateSchoolInfoRequest(logo_data=logo_data)
        request.info.school_id = school_id
        for name, value in changes.items():
            setattr(request.info, name, value)
        request.update_mask.paths.extend(paths)
        if if_version is not None:
            request.expected_version = if_version
        reply = await parta.school_info.UpdateSchoolInfo(request)
        cli.emit(reply.info, lambda: show_info(reply.info))

    cli.run(action)
