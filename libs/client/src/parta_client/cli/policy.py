"""`parta school policy`: the school's communication policy (admins)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out
from parta_client.cli.lookup import current_school
from parta_client.client import Parta

policy_app = typer.Typer(help="The school's communication policy (admins).", no_args_is_help=True)


POLICY_SWITCHES = {
    "students_reach_classmates": "students DM, call and share groups with classmates",
    "parents_reach_parents": "parents of one class reach each other",
    "calls_with_students": "adults call students (off: lessons only; guardians still call their child)",
    "erased_message_placeholders": "a deleted account's messages stay as empty placeholders (off: removed)",
}


def _switch(name: str) -> Any:
    flag = name.replace("_", "-")
    return typer.Option(f"--{flag}/--no-{flag}", help=f"{POLICY_SWITCHES[name]}.", show_default=False)


def show_policy(policy: school_events.CommunicationPolicy) -> None:
    table = grid("switch", "state", "what it allows")
    for name, meaning in POLICY_SWITCHES.items():
        on = getattr(policy, name) if policy.HasField(name) else True  # type: ignore[arg-type]
        table.add_row(name.replace("_", "-"), "on" if on else "off", meaning)
    out().print(table)


@policy_app.command("show")
def school_policy_show(ctx: typer.Context) -> None:
    """The current school's communication policy (admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.schools.GetSchoolPolicy(school_pb2.GetSchoolPolicyRequest(school_id=school_id))
        cli.emit(reply.policy, lambda: show_policy(reply.policy))

    cli.run(action)


@policy_app.command("set")
def school_policy_set(
    ctx: typer.Context,
    students_reach_classmates: Annotated[bool | None, _switch("students_reach_classmates")] = None,
    parents_reach_parents: Annotated[bool | None, _switch("parents_reach_parents")] = None,
    calls_with_students: Annotated[bool | None, _switch("calls_with_students")] = None,
    erased_message_placeholders: Annotated[bool | None, _switch("erased_message_placeholders")] = None,
) -> None:
    """Switch parts of the communication policy off (--no-…) or back on (admins). A switch only takes
    rights away from the platform defaults; switches not named stay as they are."""
    cli = Cli.of(ctx)
    wanted = {
        "students_reach_classmates": students_reach_classmates,
        "parents_reach_parents": parents_reach_parents,
        "calls_with_students": calls_with_students,
        "erased_message_placeholders": erased_message_placeholders,
    }
    switches = {k: v for k, v in wanted.items() if v is not None}
    if not switches:
        raise typer.BadParameter("name at least one switch, e.g. --no-students-reach-classmates")

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        request = school_pb2.SetSchoolPolicyRequest(
            school_id=school_id, policy=school_events.CommunicationPolicy(**switches)
        )
        reply = await parta.schools.SetSchoolPolicy(request)
        cli.emit(reply.policy, lambda: show_policy(reply.policy))

    cli.run(action)
