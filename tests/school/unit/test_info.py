"""The school's card on in-memory fakes: members read it (prefilled until saved), only admins edit it,
every field is validated, versions guard against lost updates, the logo is a small sniffed image."""

from __future__ import annotations

import pytest
from parta_common.errors import Aborted, ConcurrentChange, InvalidArgument, NotFound, PermissionDenied
from school.app.common import Caller
from school.app.info import SchoolInfos, UpdateSchoolInfo
from school.domain import info as rules
from school.domain.memberships import SchoolRole

from tests.school.fakes import FakeSchoolInfos, World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 32


async def _setup():  # type: ignore[no-untyped-def]
    w = World()
    school, klass = await onboarded(w)
    return w, school, klass, SchoolInfos(w.deps, FakeSchoolInfos())


def _violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


async def test_a_card_nobody_filled_in_shows_the_registration_and_version_0():
    _w, school, _klass, infos = await _setup()
    card = await infos.get_info(ADMIN, school.id)
    assert (card.full_name, card.version, card.logo) == ("Школа № 17", 0, None)


async def test_the_admin_fills_it_in_and_each_real_change_moves_the_version():
    _w, school, _klass, infos = await _setup()
    changes = {
        "full_name": "МБОУ «Средняя общеобразовательная школа № 17»",
        "short_name": "Школа № 17",
        "director_name": "Иванова Мария Петровна",
        "phone": "+7 (495) 123-45-67",
        "email": "school17@example.ru",
        "website": "https://школа17.рф/about",
        "description": "Мы учим с 1961 года.\nДобро пожаловать!",
    }
    card = await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, changes, logo_data=PNG, expected_version=0))
    assert card.version == 1 and card.phone == "+74951234567" and card.updated_by == ADMIN.user_id
    assert card.logo is not None and card.logo.content_type == "image/png" and card.logo.size_bytes == len(PNG)
    assert await infos.get_info(ADMIN, school.id) == card
    assert await infos.get_logo(ADMIN, school.id) == (card.logo, PNG)
    # The same values again: nothing changes.
    assert (await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {"email": "school17@example.ru"}))).version == 1
    # Clearing a field and removing the logo.
    cleared = await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {"website": ""}, logo_data=b""))
    assert (cleared.version, cleared.website, cleared.logo, cleared.short_name) == (2, "", None, "Школа № 17")
    with pytest.raises(NotFound) as info:
        await infos.get_logo(ADMIN, school.id)
    assert info.value.reason == "LOGO_NOT_FOUND"


async def test_an_edit_of_an_older_version_is_refused_and_writes_nothing():
    _w, school, _klass, infos = await _setup()
    await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {"address": "ул. Ленина, 1"}, expected_version=0))
    with pytest.raises(Aborted) as info:
        await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {"address": "ул. Мира, 2"}, expected_version=0))
    assert info.value.reason == "CONCURRENT_CHANGE" and not isinstance(info.value, ConcurrentChange)
    assert (await infos.get_info(ADMIN, school.id)).address == "ул. Ленина, 1"


async def test_members_read_it_only_admins_edit_it_and_outsiders_see_nothing():
    w, school, klass, infos = await _setup()
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    student = Caller("petya")
    await w.invites.accept_invite(student, created.token)
    assert (await infos.get_info(student, school.id)).full_name == "Школа № 17"
    with pytest.raises(PermissionDenied):
        await infos.update_info(student, UpdateSchoolInfo(school.id, {"address": "x"}))
    stranger = Caller("stranger")
    for call in (infos.get_info(stranger, school.id), infos.get_logo(stranger, school.id)):
        with pytest.raises(NotFound) as info:
            await call
        assert info.value.reason == "SCHOOL_NOT_FOUND"
    with pytest.raises(NotFound):
        await infos.update_info(stranger, UpdateSchoolInfo(school.id, {"address": "x"}))
    assert (await infos.get_info(ADMIN, school.id)).version == 0


async def test_bad_values_are_field_violations_all_at_once():
    _w, school, _klass, infos = await _setup()
    bad = {
        "full_name": " ",
        "short_name": "x" * 65,
        "director_name": "a\x00b",
        "phone": "8-495-123",
        "email": "not-an-email",
        "website": "javascript:alert(1)",
        "description": "x" * 4001,
        "region": "R",
    }
    with pytest.raises(InvalidArgument) as info:
        await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, bad, logo_data=b"<svg/>"))
    fields = _violations(info.value)
    assert set(fields) == {
        "update_mask",
        "info.full_name",
        "info.short_name",
        "info.director_name",
        "info.phone",
        "info.email",
        "info.website",
        "info.description",
        "logo_data",
    }
    with pytest.raises(InvalidArgument) as info:
        await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {}, logo_data=PNG + b"\x00" * rules.MAX_LOGO_BYTES))
    assert set(_violations(info.value)) == {"logo_data"}
    with pytest.raises(InvalidArgument):
        await infos.update_info(ADMIN, UpdateSchoolInfo(school.id, {}))


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://school17.example.ru", True),
        ("http://школа17.рф/o-nas?x=1", True),
        ("https://sch17.mskobr.ru:8443/", True),
        ("ftp://school.ru", False),
        ("https://localhost", False),
        ("https://user:pw@school.ru", False),
        ("https://school .ru", False),
        ("school.ru", False),
        ("https://-bad-.ru", False),
    ],
)
def test_website_rule(url: str, ok: bool):
    assert (rules.website_problem(url) is None) is ok


@pytest.mark.parametrize(
    "email,ok",
    [
        ("a@b.ru", True),
        ("director.school17@mail.example.ru", True),
        ("a@b", False),
        ("a b@c.ru", False),
        ("@c.ru", False),
    ],
)
def test_email_rule(email: str, ok: bool):
    assert (rules.email_problem(email) is None) is ok


@pytest.mark.parametrize(
    "phone,stored",
    [("+7 (495) 123-45-67", "+74951234567"), ("+74951234567", "+74951234567"), ("84951234567", None), ("+7", None)],
)
def test_phone_rule(phone: str, stored: str | None):
    normalized = rules.normalize_phone(phone)
    assert (normalized if rules.phone_problem(normalized) is None else None) == stored


def test_logo_types_come_from_the_bytes():
    assert [rules.sniff_image(d) for d in (PNG, JPEG, WEBP, b"GIF89a", b"<svg/>")] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        None,
        None,
    ]
