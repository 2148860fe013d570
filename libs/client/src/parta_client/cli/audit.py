"""`parta audit list|verify`: a school's audit trail (admins; docs/audit.md).

A command-group module of the CLI package, registered in `root.py` like the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from google.protobuf import timestamp_pb2
from parta.audit.v1 import audit_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import current_school, display_names, person_by_ref

audit_app = typer.Typer(help="The school's audit trail: who did what to whom (admins).", no_args_is_help=True)

PROBLEMS = {
    audit_pb2.CHAIN_PROBLEM_MISSING: "missing entry",
    audit_pb2.CHAIN_PROBLEM_ALTERED: "altered entry",
    audit_pb2.CHAIN_PROBLEM_LINK_BROKEN: "broken link",
}


def _stamp(value: str, option: str) -> timestamp_pb2.Timestamp | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option}: an ISO date or time, e.g. 2026-12-01 or 2026-12-01T08:00") from None
    if at.tzinfo is None:
        at = at.astimezone()  # the local time zone, like the times the CLI prints
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    actor: Annotated[str, typer.Option("--actor", help="Who acted: user id or name.")] = "",
    subject: Annotated[str, typer.Option("--subject", help="Whom it concerned: user id or name.")] = "",
    kind: Annotated[str, typer.Option("--kind", help='e.g. "chat.direct_message", "school.role_changed".')] = "",
    since: Annotated[str, typer.Option("--since", help="From this date/time (ISO).")] = "",
    until: Annotated[str, typer.Option("--until", help="Before this date/time (ISO).")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many entries.")] = 50,
) -> None:
    """The current school's audit entries, newest first. Your reading is itself recorded."""
    cli = Cli.of(ctx)
    after, before = _stamp(since, "--since"), _stamp(until, "--until")

    async def action(parta: Any) -> None:
        school_id = await current_school(cli, parta)
        actor_id = await person_by_ref(parta, school_id, actor) if actor else ""
        subject_id = await person_by_ref(parta, school_id, subject) if subject else ""
        request = audit_pb2.ListAuditEntriesRequest(
            school_id=school_id, actor_user_id=actor_id, subject_user_id=subject_id, kind=kind
        )
        if after is not None:
            request.occurred_after.CopyFrom(after)
        if before is not None:
            request.occurred_before.CopyFrom(before)
        found: list[audit_pb2.AuditEntry] = []
        while len(found) < limit:
            request.page_size = min(100, limit - len(found))
            reply = await parta.audit.ListAuditEntries(request)
            found.extend(reply.entries)
            if not reply.next_page_token:
                break
            request.page_token = reply.next_page_token
        names = await display_names(
            parta, [e.actor_user_id for e in found] + [s for e in found for s in e.subject_user_ids]
        )

        def human() -> None:
            table = grid("#", "when", "kind", "who", "whom", "details")
            for e in found:
                table.add_row(
                    str(e.seq),
                    when(e.occurred_at),
                    e.kind,
                    names.get(e.actor_user_id, e.actor_user_id),
                    ", ".join(names.get(s, s) for s in e.subject_user_ids),
                    " ".join(f"{k}={v}" for k, v in sorted(e.attributes.items())),
                )
            out().print(table)

        cli.emit(found, human)

    cli.run(action)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Checks the current school's chain from its first entry; exit code 3 when a link is broken."""
    cli = Cli.of(ctx)
    result: list[audit_pb2.VerifyAuditChainResponse] = []

    async def action(parta: Any) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.audit.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(school_id=school_id))
        result.append(reply)

        def human() -> None:
            if reply.intact:
                out().print(
                    f"intact: {reply.entries_checked} entries, head #{reply.head_seq} {reply.head_hash}", markup=False
                )
            else:
                out().print(
                    f"BROKEN at #{reply.first_broken_seq}: {PROBLEMS.get(reply.problem, 'broken')} — {reply.detail} "
                    f"({reply.entries_checked} entries intact before it)",
                    markup=False,
                )

        cli.emit(reply, human)

    cli.run(action)
    if result and not result[0].intact:
        raise typer.Exit(3)
