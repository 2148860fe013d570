"""`parta guardian`: link to a child, grant consent."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.identity.v1 import guardians_pb2

from parta_client.cli.context import Cli, grid, out
from parta_client.client import Parta

guardian_app = typer.Typer(help="Guardians: link to a child, grant consent.", no_args_is_help=True)


@guardian_app.command("link")
def guardian_link(ctx: typer.Context, child_phone: Annotated[str, typer.Option("--child-phone")]) -> None:
    """Link yourself as the guardian of a child (confirmed by the child or by the school)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.guardians.LinkGuardian(guardians_pb2.LinkGuardianRequest(child_phone=child_phone))
        if reply.link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED:
            cli.emit(reply.link, lambda: out().print(f"Link to {reply.link.child_user_id}: linked."))
        else:
            # Identity tells a phone request nothing about the child (not even whether it exists).
            cli.emit(reply.link, lambda: out().print("Request sent: the child confirms it (or the school does)."))

    cli.run(action)


@guardian_app.command("consent")
def guardian_consent(ctx: typer.Context, child: Annotated[str, typer.Argument(help="The child's user id.")]) -> None:
    """Grant consent for your child (below the consent age) to use Parta."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.guardians.GrantConsent(guardians_pb2.GrantConsentRequest(child_user_id=child))
        cli.emit(reply.link, lambda: out().print("Consent granted."))

    cli.run(action)


@guardian_app.command("children")
def guardian_children(ctx: typer.Context) -> None:
    """Children you are linked to."""
    cli = Cli.of(ctx)

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

        cli.emit(list(reply.links), human)

    cli.run(action)
