"""Sign-in: `login`, `logout`, `whoami`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import grpc
import typer
from parta.identity.v1 import profiles_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, out
from parta_client.cli.lookup import ROLE_NAMES
from parta_client.client import Parta
from parta_client.devsms import DevSmsFile, mask_phone


def login(
    ctx: typer.Context,
    phone: Annotated[str, typer.Argument(help="Phone number, e.g. +70000000001.")],
    sms_file: Annotated[
        Path | None,
        typer.Option("--sms-file", envvar="PARTA_DEV_SMS_FILE", help="Read the code from the dev SMS gateway file."),
    ] = None,
    device: Annotated[str, typer.Option(help="Device name shown in your session list.")] = "parta-cli",
) -> None:
    """Sign in with a one-time code (from the dev gateway file, or typed at the prompt)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        if sms_file is not None:
            codes: Any = DevSmsFile(sms_file)
        else:

            async def prompt(_: str) -> str:
                return str(await asyncio.to_thread(typer.prompt, "Code from the SMS"))

            codes = prompt
        reply = await parta.sign_in(phone, codes, device_name=device)
        schools: list[Any] = []
        try:  # listing claims roles waiting for this phone (the first admin of a school)
            schools = list((await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())).schools)
        except grpc.aio.AioRpcError:
            pass
        session = parta.require_session()
        if len(schools) == 1 and not session.school_id:
            session.school_id = schools[0].school.school_id
            parta.save_session()
        data = {"user_id": reply.user_id, "is_new_user": reply.is_new_user, "has_profile": reply.has_profile}
        data["schools"] = [s.school.school_id for s in schools]

        def human() -> None:
            console = out()
            console.print(f"Signed in as {mask_phone(phone)} (user {reply.user_id}, profile '{cli.profile}').")
            for s in schools:
                roles = ", ".join(ROLE_NAMES.get(r, "?") for r in s.roles)
                console.print(f"  school: {s.school.name} — {roles} ({s.school.school_id})")
            if not reply.has_profile:
                console.print("Next: parta profile create FIRST LAST --birth-date YYYY-MM-DD")

        cli.emit(data, human)

    cli.run(action)


def logout(ctx: typer.Context) -> None:
    """Revoke this profile's session and forget it."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        if parta.session is None:
            out().print("Not signed in.")
            return
        await parta.sign_out()
        out().print(f"Signed out (profile '{cli.profile}').")

    cli.run(action)


def whoami(ctx: typer.Context) -> None:
    """Who this profile is signed in as."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        session = parta.require_session()
        profile = (await parta.profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest())).profile
        data = {"user_id": session.user_id, "profile": cli.profile, "school_id": session.school_id}

        def human() -> None:
            name = f"{profile.first_name} {profile.last_name}".strip() or "(no profile yet)"
            out().print(f"{name} — user {session.user_id}, phone {mask_phone(session.phone)}")
            if session.school_id:
                out().print(f"school: {session.school_id}")

        cli.emit(data, human)

    cli.run(action)
