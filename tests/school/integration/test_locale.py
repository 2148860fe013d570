"""The school's locale through the real service, store and Kafka: "ru" by default; the admin sets
"en" with UpdateSchool (mask "locale"), GetSchool shows it and the SchoolUpdated chat projects carries
it; a class head cannot set it, and an unsupported locale is a field violation."""

from __future__ import annotations

import grpc
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.topics import SCHOOL_SCHOOL

from tests.school.integration.test_info import _refused
from tests.school.integration.world import build_world
from tests.school.support import payloads, read_events


def _set(school_id: str, locale: str) -> pb.UpdateSchoolRequest:
    return pb.UpdateSchoolRequest(
        school=pb.School(school_id=school_id, locale=locale), update_mask={"paths": ["locale"]}
    )


async def test_admin_sets_the_locale_and_school_publishes_it(env, kafka_bootstrap):  # type: ignore[no-untyped-def]
    w = await build_world(env)
    sid, schools = w.school.school_id, env.stubs.schools
    assert w.school.locale == "ru"
    bad = schools.UpdateSchool(_set(sid, "fr"), metadata=w.admin.md)
    _reason, fields = await _refused(bad, grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == ["school.locale"]
    await _refused(schools.UpdateSchool(_set(sid, "en"), metadata=w.head.md), grpc.StatusCode.PERMISSION_DENIED)
    updated = await schools.UpdateSchool(_set(sid, "en"), metadata=w.admin.md)
    assert updated.school.locale == "en" and updated.school.name == w.school.name
    shown = await schools.GetSchool(pb.GetSchoolRequest(school_id=sid), metadata=w.parent.md)
    assert shown.school.locale == "en"

    def published(seen):  # type: ignore[no-untyped-def]
        return [u for u in payloads(seen, ev.SchoolUpdated) if u.school.school_id == sid and u.school.locale == "en"]

    seen = await read_events(kafka_bootstrap, [env.prefix + SCHOOL_SCHOOL], until=published)
    created = [c for c in payloads(seen, ev.SchoolCreated) if c.school.school_id == sid]
    assert [c.school.locale for c in created] == ["ru"]
    assert published(seen)[-1].school.timezone == "Europe/Moscow"  # the whole snapshot, as ever
