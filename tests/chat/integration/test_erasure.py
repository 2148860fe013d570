"""chat's erasure queries against the real store (adapters/mongo/erasure.py): a person's messages
until they are erased, the system notes that still carry their name, report snapshots and reasons
blanked once, file tombstones' names blanked. The whole erasure through real processes is
tests/e2e/test_erasure.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from chat.adapters.mongo import FILES, MESSAGES, REPORTS, index_specs
from chat.adapters.mongo.codecs import message_doc
from chat.adapters.mongo.erasure import MongoErasureContent
from chat.domain.messages import Message
from chat.domain.system_notes import member_joined
from parta_common.mongo import ensure_indexes

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def test_the_erasure_finds_what_is_left_of_a_person_and_blanks_it_once(mongo_db: Any) -> None:
    await ensure_indexes(mongo_db, index_specs())  # the erasure's indexes build on this store
    mine = Message("cls-1", "m1", 1, 1, "s1", "misha", "секрет", T0)
    theirs = Message("cls-1", "m2", 2, 2, "s1", "bob", "привет", T0)
    note = Message("cls-1", "n3", 3, 3, "s1", "", "Миша присоединился", T0, system=True,
                   system_note=member_joined("misha", "Миша"))  # fmt: skip
    await mongo_db[MESSAGES].insert_many([message_doc(m) for m in (mine, theirs, note)])
    await mongo_db[REPORTS].insert_many(
        [
            {"_id": "r1", "reporter": "bob", "reason": "грубо", "message": message_doc(mine)},
            {"_id": "r2", "reporter": "misha", "reason": "Боб обзывается", "message": message_doc(theirs)},
        ]
    )
    await mongo_db[FILES].insert_one({"_id": "f1", "owner": "misha", "filename": "дневник.pdf", "deleted": True})
    content = MongoErasureContent(mongo_db)

    assert [m.message_id for m in await content.messages_by("misha", 10)] == ["m1"]
    assert [m.message_id for m in await content.notes_naming("misha", 10)] == ["n3"]
    await mongo_db[MESSAGES].replace_one({"_id": "m1"}, message_doc(replace(mine, text="", author_erased=True)))
    assert await content.messages_by("misha", 10) == []  # erased messages are not found again

    assert await content.erase_reports("misha") == 2
    assert await content.erase_reports("misha") == 0  # once
    r1, r2 = [await mongo_db[REPORTS].find_one({"_id": r}) for r in ("r1", "r2")]
    assert r1["message"]["text"] == "" and r1["reason"] == "грубо"  # bob's reason is bob's
    assert r2["reason"] == "" and r2["message"]["text"] == "привет"  # bob's message is bob's
    assert await content.erase_file_names("misha") == 1
    assert (await mongo_db[FILES].find_one({"_id": "f1"}))["filename"] == ""
