"""`parta invite`: invite links and QR codes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from parta.common.v1 import types_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import CLASS_ROLE_NAMES, ROLE_NAMES, ROLES, class_by_ref, current_school, person_by_ref
from parta_client.client import Parta, new_request_id
from parta_client.resolve import choose_role, invite_token, parse_duration

invite_app = typer.Typer(help="Invite links and QR codes.", no_args_is_help=True)


# A staff room's worth of teachers, a class of students, two parents for one child.
DEFAULT_USES = {"teacher": 50, "student": 40, "parent": 2}


def print_qr(link: str) -> None:
    import segno

    segno.make(link, error="m").terminal(out=sys.stdout, compact=True)


@invite_app.command("create")
def invite_create(
    ctx: typer.Context,
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
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chosen = choose_role(role, ("teacher", "student", "parent"))
        school_id = await current_school(cli, parta)
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

        cli.emit({"invite": reply.invite, "token": reply.token, "link": reply.link}, human)

    cli.run(action)


def show_preview(preview: school_pb2.PreviewInviteResponse) -> None:
    where = f"{preview.school_name}" + (f", class {preview.class_title}" if preview.class_title else "")
    approval = " (needs approval)" if preview.requires_approval else ""
    out().print(f"Invite to {where} as {ROLE_NAMES.get(preview.role, '?')}{approval}, until {when(preview.expires_at)}")


@invite_app.command("preview")
def invite_preview(ctx: typer.Context, token: Annotated[str, typer.Argument(help="Token or link.")]) -> None:
    """What an invite is for, without joining (no sign-in needed)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        preview = await parta.invites.PreviewInvite(school_pb2.PreviewInviteRequest(token=invite_token(token)))
        cli.emit(preview, lambda: show_preview(preview))

    cli.run(action)


@invite_app.command("accept")
def invite_accept(ctx: typer.Context, token: Annotated[str, typer.Argument(help="Token or link.")]) -> None:
    """Join a school or class with an invite (or ask to, when it needs approval)."""
    cli = Cli.of(ctx)

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

        cli.emit(reply, human)

    cli.run(action)


@invite_app.command("list")
def invite_list(ctx: typer.Context, class_: Annotated[str, typer.Option("--class")] = "") -> None:
    """Invites of the school (teachers see their own)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
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

        cli.emit(list(reply.invites), human)

    cli.run(action)


@invite_app.command("revoke")
def invite_revoke(ctx: typer.Context, invite_id: str) -> None:
    """Revoke an invite: its link stops working."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.invites.RevokeInvite(school_pb2.RevokeInviteRequest(invite_id=invite_id))
        cli.emit(reply.invite, lambda: out().print("Revoked."))

    cli.run(action)
