"""`parta materials`: the school's materials — documents, videos and links for the school or a class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.files import UPLOAD_SECONDS, guess_type
from parta_client.cli.lookup import class_by_ref, current_school
from parta_client.client import Parta, new_request_id
from parta_client.resolve import UsageError
from parta_client.uploads import upload_file

materials_app = typer.Typer(help="The school's materials: documents, videos and links.", no_args_is_help=True)

ClassOpt = Annotated[str, typer.Option("--class", help="A class (5А or its id); without it, the whole school.")]


async def _audience(cli: Cli, parta: Parta, class_ref: str) -> tuple[str, str]:
    school_id = await current_school(cli, parta)
    return school_id, await class_by_ref(parta, school_id, class_ref) if class_ref else ""


def _where(m: chat_pb2.Material) -> str:
    if m.kind == chat_pb2.MATERIAL_KIND_LINK:
        return m.url
    return f"{m.filename} ({m.size_bytes} bytes, file {m.file_id})"


@materials_app.command("list")
def materials_list(
    ctx: typer.Context,
    class_: ClassOpt = "",
    limit: Annotated[int, typer.Option(help="How many, newest first (1..100).")] = 50,
) -> None:
    """The school's materials, or a class's, newest first."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id, class_id = await _audience(cli, parta, class_)
        reply = await parta.materials.ListMaterials(
            chat_pb2.ListMaterialsRequest(school_id=school_id, class_id=class_id, page_size=limit)
        )

        def human() -> None:
            if not reply.materials:
                out().print("No materials yet.")
                return
            table = grid("id", "title", "file or link", "published")
            for m in reply.materials:
                table.add_row(m.material_id, m.title, _where(m), when(m.published_at))
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)


@materials_app.command("publish")
def materials_publish(
    ctx: typer.Context,
    title: str,
    class_: ClassOpt = "",
    file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, readable=True, help="Upload and publish.")
    ] = None,
    file_id: Annotated[str, typer.Option(help="Publish a file already in your storage.")] = "",
    url: Annotated[str, typer.Option(help="Publish a link (http or https).")] = "",
    description: Annotated[str, typer.Option(help="A few words about it.")] = "",
) -> None:
    """Publish a file or a link (admins: any audience; a class's teachers: their class)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        if sum(bool(x) for x in (file, file_id, url)) != 1:
            raise UsageError("give exactly one of --file, --file-id and --url")
        school_id, class_id = await _audience(cli, parta, class_)
        chosen = file_id
        if file is not None:
            uploaded = await upload_file(parta.files, file, new_request_id(), guess_type(file), timeout=UPLOAD_SECONDS)
            chosen = uploaded.file.file_id
        reply = await parta.materials.PublishMaterial(
            chat_pb2.PublishMaterialRequest(
                school_id=school_id,
                class_id=class_id,
                request_id=new_request_id(),
                title=title,
                description=description,
                file_id=chosen,
                url=url,
            )
        )
        m = reply.material
        cli.emit(reply, lambda: out().print(f"Published {m.material_id}: {m.title} — {_where(m)}", markup=False))

    cli.run(action)


@materials_app.command("remove")
def materials_remove(ctx: typer.Context, material_id: str) -> None:
    """Remove a material (its publisher or an admin); a file stays in its owner's storage."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.materials.RemoveMaterial(
            chat_pb2.RemoveMaterialRequest(school_id=school_id, material_id=material_id)
        )
        cli.emit(reply, lambda: out().print("Removed."))

    cli.run(action)
