"""`parta requests`: join requests of a class."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
import typer
from parta.common.v1 import types_pb2
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import ROLE_NAMES, all_classes, class_by_ref, current_school, display_names
from parta_client.client import Parta

requests_app = typer.Typer(help="Join requests of a class (class heads and admins).", no_args_is_help=True)


REQUEST_STATES = {
    school_events.JOIN_REQUEST_STATE_PENDING: "pending",
    school_events.JOIN_REQUEST_STATE_APPROVED: "approved",
    school_events.JOIN_REQUEST_STATE_REJECTED: "rejected",
}


@requests_app.command("list")
def requests_list(
    ctx: typer.Context,
    class_: Annotated[str, typer.Option("--class", help="Class (default: every class you may decide for).")] = "",
    every: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
) -> None:
    """Join requests waiting for a decision."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
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

        cli.emit(found, human)

    cli.run(action)


def _decide(cli: Cli, join_request_id: str, approve: bool) -> None:
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
        cli.emit(reply.join_request, lambda: out().print(f"Request {join_request_id}: {state}."))

    cli.run(action)


@requests_app.command("approve")
def requests_approve(ctx: typer.Context, join_request_id: str) -> None:
    """Approve a join request: the person becomes a member."""
    cli = Cli.of(ctx)
    _decide(cli, join_request_id, True)


@requests_app.command("reject")
def requests_reject(ctx: typer.Context, join_request_id: str) -> None:
    """Reject a join request."""
    cli = Cli.of(ctx)
    _decide(cli, join_request_id, False)
