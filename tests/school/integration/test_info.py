"""The school's card through the real service and store: the admin fills it in (logo included), a
student and a parent read it and cannot edit it, another school's admin neither reads nor edits it,
bad values come back as field violations, and an edit of an older version is refused."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.school.v1 import school_pb2 as pb

from tests.school.integration.world import World, build_world

LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # ~10 KB


@pytest.fixture(scope="module")
async def world(env) -> World:  # type: ignore[no-untyped-def]
    return await build_world(env)


def _details(error: grpc.aio.AioRpcError) -> tuple[str, list[str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    reason, fields = "", []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            reason = error_details_pb2.ErrorInfo.FromString(detail.value).reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            fields = [v.field for v in error_details_pb2.BadRequest.FromString(detail.value).field_violations]
    return reason, fields


async def _refused(call, code: grpc.StatusCode) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, (info.value.code(), info.value.details())
    return _details(info.value)


async def test_admin_fills_in_the_card_members_read_it_and_nobody_else_edits_it(world: World):
    w, infos, sid = world, world.s.infos, world.school.school_id
    first = await infos.GetSchoolInfo(pb.GetSchoolInfoRequest(school_id=sid), metadata=w.student.md)
    assert (first.info.full_name, first.info.version) == ("Школа A", 0)

    card = pb.SchoolInfo(
        school_id=sid,
        full_name="МБОУ «Школа A»",
        director_name="Иванова Мария Петровна",
        phone="+7 (495) 123-45-67",
        email="school-a@example.ru",
        website="https://school-a.example.ru",
        description="Первая строка.\nВторая строка.",
    )
    paths = ["full_name", "director_name", "phone", "email", "website", "description", "logo"]
    saved = await infos.UpdateSchoolInfo(
        pb.UpdateSchoolInfoRequest(
            info=card, update_mask={"paths": paths}, logo_data=LOGO, expected_version=first.info.version
        ),
        metadata=w.admin.md,
    )
    assert saved.info.version == 1 and saved.info.phone == "+74951234567"
    assert saved.info.logo.content_type == "image/png" and saved.info.logo.size_bytes == len(LOGO)
    assert saved.info.updated_by_user_id == w.admin.user_id

    for reader in (w.student, w.parent, w.sub):
        shown = await infos.GetSchoolInfo(pb.GetSchoolInfoRequest(school_id=sid), metadata=reader.md)
        assert shown.info == saved.info
        logo = await infos.GetSchoolLogo(pb.GetSchoolLogoRequest(school_id=sid), metadata=reader.md)
        assert logo.data == LOGO and logo.logo == saved.info.logo

    edit = pb.UpdateSchoolInfoRequest(
        info=pb.SchoolInfo(school_id=sid, full_name="Чужая школа"), update_mask={"paths": ["full_name"]}
    )
    for editor in (w.student, w.parent, w.head):
        await _refused(infos.UpdateSchoolInfo(edit, metadata=editor.md), grpc.StatusCode.PERMISSION_DENIED)
    # Another school's admin: not even the card's existence.
    outsider = w.other_admin.md
    reason, _ = await _refused(infos.UpdateSchoolInfo(edit, metadata=outsider), grpc.StatusCode.NOT_FOUND)
    assert reason == "SCHOOL_NOT_FOUND"
    for read in (
        infos.GetSchoolInfo(pb.GetSchoolInfoRequest(school_id=sid), metadata=outsider),
        infos.GetSchoolLogo(pb.GetSchoolLogoRequest(school_id=sid), metadata=outsider),
    ):
        assert (await _refused(read, grpc.StatusCode.NOT_FOUND))[0] == "SCHOOL_NOT_FOUND"
    after = await infos.GetSchoolInfo(pb.GetSchoolInfoRequest(school_id=sid), metadata=w.admin.md)
    assert after.info == saved.info

    # An admin editing what they read before version 1 is refused, and nothing changes.
    stale = pb.UpdateSchoolInfoRequest(
        info=pb.SchoolInfo(school_id=sid, address="ул. Мира, 2"), update_mask={"paths": ["address"]}, expected_version=0
    )
    reason, _ = await _refused(infos.UpdateSchoolInfo(stale, metadata=w.admin.md), grpc.StatusCode.ABORTED)
    assert reason == "CONCURRENT_CHANGE"
    # Removing the logo.
    removed = await infos.UpdateSchoolInfo(
        pb.UpdateSchoolInfoRequest(info=pb.SchoolInfo(school_id=sid), update_mask={"paths": ["logo"]}),
        metadata=w.admin.md,
    )
    assert not removed.info.HasField("logo") and removed.info.version == 2
    reason, _ = await _refused(
        infos.GetSchoolLogo(pb.GetSchoolLogoRequest(school_id=sid), metadata=w.parent.md), grpc.StatusCode.NOT_FOUND
    )
    assert reason == "LOGO_NOT_FOUND"


async def test_bad_values_are_field_violations(world: World):
    sid = world.school.school_id
    bad = pb.UpdateSchoolInfoRequest(
        info=pb.SchoolInfo(school_id=sid, email="a@", website="javascript:alert(1)", phone="84951234567"),
        update_mask={"paths": ["email", "website", "phone", "logo"]},
        logo_data=b"GIF89a" + b"\x00" * 10,
    )
    _, fields = await _refused(
        world.s.infos.UpdateSchoolInfo(bad, metadata=world.admin.md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert sorted(fields) == ["info.email", "info.phone", "info.website", "logo_data"]
    big = pb.UpdateSchoolInfoRequest(
        info=pb.SchoolInfo(school_id=sid), update_mask={"paths": ["logo"]}, logo_data=LOGO + b"\x00" * 256 * 1024
    )
    _, fields = await _refused(
        world.s.infos.UpdateSchoolInfo(big, metadata=world.admin.md), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert fields == ["logo_data"]


async def _parta(env, user, home, *argv: str):  # type: ignore[no-untyped-def]
    import asyncio

    from parta_client import Session, SessionStore
    from parta_client.cli import app
    from typer.testing import CliRunner

    profile = user.user_id
    SessionStore(home, profile).save(
        Session(user_id=user.user_id, phone=user.phone, access_token=user.token, refresh_token="unused")
    )
    variables = {"PARTA_HOME": str(home), **{f"PARTA_{n}_ADDR": env.address for n in ("IDENTITY", "SCHOOL")}}
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", profile, *argv], env=variables)


async def test_parta_school_info_set_and_show_against_the_service(env, world: World, tmp_path):  # type: ignore[no-untyped-def]
    import json

    from tests.school.integration.world import register

    admin = env.mint.user()
    school = await register(env, admin, "Школа CLI")
    w = World(env, school, admin, *(None,) * 8)  # type: ignore[arg-type]
    klass = await w.new_class()
    student = env.mint.user()
    from parta.school.v1 import events_pb2 as ev

    await w.join(student, ev.SCHOOL_ROLE_STUDENT, class_id=klass.class_id)
    logo = tmp_path / "logo.png"
    logo.write_bytes(LOGO)

    done = await _parta(
        env,
        admin,
        tmp_path,
        "school",
        "info",
        "set",
        "--full-name",
        "МБОУ «Школа CLI»",
        "--director",
        "Петров Пётр Петрович",
        "--phone",
        "+7 (495) 765-43-21",
        "--website",
        "https://school-cli.example.ru",
        "--logo",
        str(logo),
        "--if-version",
        "0",
    )
    assert done.exit_code == 0, done.output
    assert "Петров Пётр Петрович" in done.stdout and "+74957654321" in done.stdout

    shown = await _parta(env, student, tmp_path, "--json", "school", "info", "show", "--save-logo", str(tmp_path / "o"))
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.stdout)
    assert card["full_name"] == "МБОУ «Школа CLI»" and card["version"] == "1"
    assert (tmp_path / "o").read_bytes() == LOGO

    refused = await _parta(env, student, tmp_path, "school", "info", "set", "--address", "ул. Школьная, 1")
    assert refused.exit_code != 0 and "PERMISSION_DENIED" in refused.output
    bad = await _parta(env, admin, tmp_path, "school", "info", "set", "--email", "nobody")
    assert bad.exit_code != 0 and "info.email" in bad.output
    stale = await _parta(env, admin, tmp_path, "school", "info", "set", "--address", "x", "--if-version", "0")
    assert stale.exit_code != 0 and "CONCURRENT_CHANGE" in stale.output
