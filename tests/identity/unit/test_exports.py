"""Family-scoped export: who may start an export of whose data (one refusal for everyone else),
whether the child is told, the profile part, idempotency and the daily limit — with fakes."""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from datetime import datetime

import pytest
from identity.app.exports import Exports
from identity.app.profiles import ProfileInput
from identity.domain.exports import EXPORTS_PER_DAY, ExportRequest
from parta_common import exports as kit_exports
from parta_common.errors import PermissionDenied, ResourceExhausted

from tests.identity.fakes import World

pytestmark = pytest.mark.unit

ANNA, MISHA, TEEN, OTHER_PARENT, OTHER_CHILD, STRANGER = (f"+7999222000{i}" for i in range(1, 7))


class FakeExports:
    def __init__(self) -> None:
        self.stored: dict[str, tuple[ExportRequest, dict[str, object]]] = {}

    async def get(self, export_id: str) -> ExportRequest | None:
        found = self.stored.get(export_id)
        return found[0] if found else None

    async def count_since(self, requested_by: str, since: datetime) -> int:
        return sum(1 for r, _ in self.stored.values() if r.requested_by == requested_by and r.requested_at >= since)

    async def add(self, request: ExportRequest, profile: dict[str, object]) -> ExportRequest:
        if request.export_id in self.stored:
            return self.stored[request.export_id][0]
        self.stored[request.export_id] = (request, profile)
        return request


async def person(w: World, phone: str, first: str, birth: str) -> str:
    signed = await w.signed_in(phone)
    await w.profiles.create_profile(signed.user_id, ProfileInput(first, "Смирнов", "", birth), "")
    return str(signed.user_id)


async def linked(w: World, guardian: str, child: str) -> None:
    code, _ = await w.guardians.create_link_code(child)
    await w.guardians.link(guardian, None, code)


@pytest.fixture
async def family():  # type: ignore[no-untyped-def]
    w = World()
    store = FakeExports()
    ids = {
        "anna": await person(w, ANNA, "Анна", "1988-02-02"),
        "misha": await person(w, MISHA, "Миша", "2016-05-01"),  # 10 on the fake clock's day
        "teen": await person(w, TEEN, "Петя", "2011-03-01"),  # 15
        "other_parent": await person(w, OTHER_PARENT, "Ольга", "1985-01-01"),
        "other_child": await person(w, OTHER_CHILD, "Коля", "2016-01-01"),
        "stranger": await person(w, STRANGER, "Игорь", "1980-01-01"),
    }
    await linked(w, ids["anna"], ids["misha"])
    await linked(w, ids["anna"], ids["teen"])
    await linked(w, ids["other_parent"], ids["other_child"])
    exports = Exports(users=w.users, exports=store, clock=w.clock, policy=w.policy)
    return w, store, exports, ids


async def test_a_person_exports_their_own_data_once_per_request_id(family):  # type: ignore[no-untyped-def]
    _, store, exports, ids = family
    first = await exports.request(ids["stranger"], "", "r-1")
    again = await exports.request(ids["stranger"], ids["stranger"], "r-1")
    assert first.subject_user_id == ids["stranger"] and not first.notify_subject
    assert again.export_id == first.export_id and len(store.stored) == 1
    other = await exports.request(ids["stranger"], "", "r-2")
    assert other.export_id != first.export_id


async def test_a_confirmed_guardian_exports_a_childs_data_and_a_child_of_14_or_more_is_told(family):  # type: ignore[no-untyped-def]
    _, store, exports, ids = family
    young = await exports.request(ids["anna"], ids["misha"], "")
    teen = await exports.request(ids["anna"], ids["teen"], "")
    assert (young.subject_user_id, young.requested_by, young.notify_subject) == (ids["misha"], ids["anna"], False)
    assert (teen.subject_user_id, teen.notify_subject) == (ids["teen"], True)
    profile = store.stored[young.export_id][1]
    assert profile["profile"]["birth_date"].isoformat() == "2016-05-01"  # type: ignore[index]
    assert [g["first_name"] for g in profile["guardians"]] == ["Анна"]  # type: ignore[index, union-attr]
    assert json.loads(kit_exports.to_json(profile))["user_id"] == ids["misha"]


async def test_everyone_else_hears_the_same_refusal(family):  # type: ignore[no-untyped-def]
    w, store, exports, ids = family
    pending = await person(w, "+79992220099", "Вера", "1990-01-01")
    await w.guardians.link(pending, MISHA, None)  # a request Миша never confirmed
    adult_child = await person(w, "+79992220098", "Дима", "2000-01-01")
    await linked(w, ids["anna"], adult_child)
    gone = await person(w, "+79992220097", "Женя", "2016-01-01")
    await linked(w, ids["anna"], gone)
    await w.accounts.delete(gone, True)
    cases = [
        (ids["stranger"], ids["misha"]),  # a stranger
        (ids["other_parent"], ids["misha"]),  # a parent of another child
        (pending, ids["misha"]),  # a guardian whose link is still a request
        (ids["misha"], ids["anna"]),  # a child does not export a parent
        (ids["anna"], str(uuid.uuid4())),  # nobody has this id
        (ids["anna"], gone),  # a deleted account
        (ids["anna"], adult_child),  # an adult's data is theirs alone
    ]
    answers = set()
    for caller, subject in cases:
        with pytest.raises(PermissionDenied) as refused:
            await exports.request(caller, subject, "")
        answers.add((refused.value.reason, str(refused.value)))
    assert answers == {("EXPORT_NOT_ALLOWED", "you may not export this person's data")}
    assert store.stored == {}


async def test_exports_are_limited_per_day(family):  # type: ignore[no-untyped-def]
    w, _, exports, ids = family
    for i in range(EXPORTS_PER_DAY):
        await exports.request(ids["anna"], "", f"r-{i}")
    with pytest.raises(ResourceExhausted) as limited:
        await exports.request(ids["anna"], "", "one-more")
    assert limited.value.reason == "EXPORT_RATE_LIMITED"
    assert (await exports.request(ids["anna"], "", "r-0")).requested_by == ids["anna"]  # a retry still answers
    w.clock.advance(86_401)
    await exports.request(ids["anna"], "", "next-day")


def test_a_part_keeps_what_fits_compressed_and_says_it_was_cut() -> None:
    # Random bytes do not compress: 600 rows of 64 random bytes cannot fit 16 KiB even packed.
    document = {"user_id": "u", "lessons": [{"n": i, "id": secrets.token_hex(64)} for i in range(600)]}
    data, truncated = kit_exports.bounded_json(document, "lessons", max_bytes=16 * 1024)
    parsed = json.loads(gzip.decompress(data))
    assert truncated and len(data) <= 16 * 1024
    assert parsed["truncated"] is True and parsed["total"] == 600
    assert parsed["lessons"][0]["n"] == 0 and 100 < len(parsed["lessons"]) < 600
    # The largest prefix that fits: one row more would not.
    kept = len(parsed["lessons"])
    one_more = {**document, "lessons": document["lessons"][: kept + 1], "truncated": True, "total": 600}
    assert len(kit_exports.packed(one_more)) > 16 * 1024
    small, cut = kit_exports.bounded_json({"user_id": "u", "lessons": []}, "lessons")
    assert not cut and json.loads(gzip.decompress(small)) == {"lessons": [], "user_id": "u"}
    message = kit_exports.part_message("e", "s", "r", kit_exports.ATTENDANCE, document, "lessons")
    assert message.gzipped and not message.truncated  # 600 rows fit the real bound
    assert json.loads(gzip.decompress(message.json))["lessons"] == document["lessons"]
