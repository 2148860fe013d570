"""The `parta` app: the global options and every command group in the order `parta --help` lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from parta_client.cli import (
    announcements,
    attendance,
    audit,
    auth,
    broadcasts,
    calls,
    chats,
    classes,
    exports,
    files,
    guardians,
    info,
    invites,
    join_requests,
    lessons,
    locales,
    materials,
    moderation,
    policy,
    polls,
    profiles,
    schools,
    timetables,
)
from parta_client.cli.context import Cli
from parta_client.client import new_trace_id

app = typer.Typer(
    name="parta",
    help="Parta from the terminal: sign in, schools, classes, invites, chats, files, lessons, calls and broadcasts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


for command in (auth.login, auth.logout, auth.whoami, chats.send, chats.history, chats.follow):
    app.command()(command)
for personal in (moderation.block, moderation.unblock, moderation.blocked):
    app.command()(personal)
app.command("urgent-notifications")(moderation.urgent_notifications)
schools.school_app.add_typer(policy.policy_app, name="policy")
schools.school_app.add_typer(info.info_app, name="info")
schools.school_app.add_typer(locales.locale_app, name="locale")
app.add_typer(profiles.profile_app, name="profile")
app.add_typer(schools.school_app, name="school")
app.add_typer(classes.class_app, name="class")
app.add_typer(invites.invite_app, name="invite")
app.add_typer(join_requests.requests_app, name="requests")
app.add_typer(chats.chats_app, name="chats")
app.add_typer(files.file_app, name="file")
app.add_typer(lessons.lesson_app, name="lesson")
app.add_typer(calls.call_app, name="call")
app.add_typer(broadcasts.broadcast_app, name="broadcast")
app.add_typer(attendance.attendance_app, name="attendance")
app.add_typer(guardians.guardian_app, name="guardian")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(moderation.reports_app, name="reports")
app.add_typer(moderation.held_app, name="held")
app.add_typer(timetables.timetable_app, name="timetable")
app.add_typer(timetables.holidays_app, name="holidays")
app.add_typer(announcements.announce_app, name="announce")
app.add_typer(polls.poll_app, name="poll")
app.add_typer(materials.materials_app, name="materials")
app.add_typer(exports.export_app, name="export")


@app.callback()
def options(
    ctx: typer.Context,
    profile: Annotated[
        str, typer.Option("--profile", "-p", envvar="PARTA_PROFILE", help="Session profile (one per person).")
    ] = "default",
    school: Annotated[str, typer.Option("--school", help="School id or name (default: the profile's).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    trace: Annotated[
        bool, typer.Option("--trace", help="Send W3C trace context with every call; prints the trace id.")
    ] = False,
) -> None:
    cli = Cli(profile=profile, school=school, json=as_json, trace_id=new_trace_id() if trace else "")
    try:
        cli.store()
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--profile") from None
    ctx.obj = cli


def main() -> None:
    app()
