"""chat's erasure queries against the real store (adapters/mongo/erasure.py): a person's messages
until they are erased, the system notes that still carry their name, report snapshots and reasons
blanked once, file tombstones' names blanked; their announcements, polls and materials, and their
id in others' family rows and votes. Then the erasure of a teacher and a parent through the RPCs of
two replicas (announcements, polls, materials, downloads). The whole erasure through real
processes is tests/e2e/test_erasure.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from chat.adapters.mongo import (
    ANNOUNCEMENT_FAMILIES,
    ANNOUNCEMENT_REMINDERS,
    ANNOUNCEMENTS,
    FILES,
    MATERIALS,
    MESSAGES,
    POLL_VOTES,
    POLLS,
    REPORTS,
    index_specs,
)
from chat.adapters.mongo.codecs import message_doc
from chat.adapters.mongo.erasure import MongoErasureContent, MongoErasureWorks
from chat.domain.messages import Message, Reaction
from chat.domain.system_notes import member_joined
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as events
from parta_common.erasure import ERASURES
from parta_common.mongo import create_mongo_client, ensure_indexes

from tests.chat.integration.test_files import _code, download, upload_parts
from tests.chat.support import (
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    STUDENT,
    TEACHER,
    Person,
    Stubs,
    World,
    chat_ids,
    eventually,
    uid,
)

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
    reacted = replace(theirs, reactions=[Reaction("👍", ["bob"]), Reaction("❤", ["misha", "bob"])])
    await mongo_db[MESSAGES].replace_one({"_id": "m2"}, message_doc(reacted))
    assert [m.message_id for m in await content.reacted_by("misha", 10)] == ["m2"]
    assert await content.reacted_by("bob2", 10) == []

    assert await content.erase_reports("misha") == 2
    assert await content.erase_reports("misha") == 0  # once
    r1, r2 = [await mongo_db[REPORTS].find_one({"_id": r}) for r in ("r1", "r2")]
    assert r1["message"]["text"] == "" and r1["reason"] == "грубо"  # bob's reason is bob's
    assert r2["reason"] == "" and r2["message"]["text"] == "привет"  # bob's message is bob's
    assert await content.erase_file_names("misha") == 1
    assert (await mongo_db[FILES].find_one({"_id": "f1"}))["filename"] == ""


async def test_the_erasure_finds_a_persons_announcements_polls_materials_and_their_id_in_others(mongo_db: Any) -> None:
    """MongoErasureWorks: found until erased or removed, ids replaced, removals take their rows."""
    await ensure_indexes(mongo_db, index_specs())
    await mongo_db[ANNOUNCEMENTS].insert_many(
        [
            {"_id": "a1", "chat_id": "par-1", "seq": 1, "school_id": "s1", "author": "tom", "text": "Собрание",
             "posted_at": T0, "families": 2, "confirmed": 1},
            {"_id": "a2", "chat_id": "par-1", "seq": 2, "school_id": "s1", "author": "tom", "text": "Экскурсия",
             "posted_at": T0, "families": 2, "confirmed": 0},
        ]
    )  # fmt: skip
    await mongo_db[ANNOUNCEMENT_FAMILIES].insert_many(
        [
            {"_id": "a1|ann", "ann": "a1", "child": "ann", "guardians": ["pat", "pam"], "by": "pat", "at": T0},
            {"_id": "a1|bea", "ann": "a1", "child": "bea", "guardians": ["pat"], "by": None, "at": None},
            {"_id": "a2|ann", "ann": "a2", "child": "ann", "guardians": ["pam"], "by": None, "at": None},
            # pat linked to cid after the post: confirmed without being listed as a guardian.
            {"_id": "a2|cid", "ann": "a2", "child": "cid", "guardians": ["cal"], "by": "pat", "at": T0},
        ]
    )
    await mongo_db[POLLS].insert_one(
        {"_id": "p1", "chat_id": "par-1", "seq": 3, "school_id": "s1", "author": "tom", "question": "Куда?",
         "options": ["Музей", "Театр"], "created_at": T0, "closed_at": None}
    )  # fmt: skip
    await mongo_db[POLL_VOTES].insert_many(
        [
            {"_id": "p1|pat", "poll": "p1", "key": "pat", "choices": [1], "at": T0, "voter": "pat"},
            {"_id": "p1|pam", "poll": "p1", "key": "pam", "choices": [0], "at": T0, "voter": "pam"},
        ]
    )
    await mongo_db[MATERIALS].insert_one(
        {"_id": "mat1", "school_id": "s1", "class_id": "5A", "title": "Диктант", "kind": 1, "by": "tom", "at": T0}
    )
    await mongo_db[ANNOUNCEMENT_REMINDERS].insert_one(
        {"_id": "a2|ann|2026-12-07", "ann": "a2", "child": "ann", "day": "2026-12-07", "at": T0, "by": "tom",
         "to": ["pam"]}
    )  # fmt: skip
    works = MongoErasureWorks(mongo_db)
    [reminder] = await works.reminders_of("a2")
    assert (reminder.child_user_id, reminder.day, reminder.by, reminder.to) == ("ann", "2026-12-07", "tom", ("pam",))

    # A parent: out of the guardians, a token for their confirmation, their vote unnamed; once.
    assert await works.anonymise_families("pat", "erased-1") == (2, 2)
    assert await works.anonymise_families("pat", "erased-1") == (0, 0)
    assert (await mongo_db[ANNOUNCEMENT_FAMILIES].find_one({"_id": "a2|cid"}))["by"] == "erased-1"
    ann = await mongo_db[ANNOUNCEMENT_FAMILIES].find_one({"_id": "a1|ann"})
    assert (ann["guardians"], ann["by"]) == (["pam"], "erased-1")
    assert await works.anonymise_votes("pat") == 1 and await works.anonymise_votes("pat") == 0
    assert "voter" not in await mongo_db[POLL_VOTES].find_one({"_id": "p1|pat"})
    # A child: the token stands in the family rows.
    assert await works.anonymise_families("ann", "erased-2") == (2, 0)
    assert await mongo_db[ANNOUNCEMENT_FAMILIES].count_documents({"child": "ann"}) == 0

    # The author: a placeholder stops being found; a removal takes the rows with it.
    found = await works.announcements_by("tom", 10)
    assert sorted(a.announcement_id for a in found) == ["a1", "a2"]
    first = next(a for a in found if a.announcement_id == "a1")
    assert await works.save_erased_announcement(replace(first, text=""))
    assert await works.remove_announcement("a2") and not await works.remove_announcement("a2")
    assert await works.announcements_by("tom", 10) == []
    assert await mongo_db[ANNOUNCEMENT_FAMILIES].count_documents({"ann": "a2"}) == 0
    assert await works.reminders_of("a2") == []
    assert (await mongo_db[ANNOUNCEMENTS].find_one({"_id": "a1"}))["text"] == ""
    [poll] = await works.polls_by("tom", 10)
    assert await works.save_erased_poll(replace(poll, question="", options=["", ""], closed_at=T0))
    assert await works.polls_by("tom", 10) == []
    assert await mongo_db[POLL_VOTES].count_documents({"poll": "p1"}) == 2  # the votes still count
    assert await works.remove_poll("p1") and await mongo_db[POLL_VOTES].count_documents({"poll": "p1"}) == 0
    assert [m.material_id for m in await works.materials_by("tom", 10)] == ["mat1"]
    assert await works.remove_material("mat1") and await works.materials_by("tom", 10) == []


async def test_an_erased_teacher_and_parent_leave_nothing_readable_in_announcements_polls_and_materials(
    world: World,
) -> None:
    """Through the RPCs, two replicas: 5А's head posts an announcement, a poll and a file material;
    a parent confirms and votes; both accounts are deleted. The other guardian of the family then
    reads the announcement and the poll as placeholders that still count, the family's confirmation
    under no one's id, no material and no file; chat's erasure ledger reports the new categories."""
    a, b = (r.stubs for r in world.replicas)
    notes_a = chat_pb2_grpc.AnnouncementServiceStub(a.channel)
    notes_b = chat_pb2_grpc.AnnouncementServiceStub(b.channel)
    polls_a, polls_b = chat_pb2_grpc.PollServiceStub(a.channel), chat_pb2_grpc.PollServiceStub(b.channel)
    materials_a = chat_pb2_grpc.MaterialServiceStub(a.channel)
    materials_b = chat_pb2_grpc.MaterialServiceStub(b.channel)
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id, "5А")
    head, kid, pat, pam = (world.person() for _ in range(4))
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.member(kid.user_id, STUDENT, class_id, CSTUDENT)
    for guardian in (pat, pam):
        await school.member(guardian.user_id, PARENT, class_id, CPARENT, child=kid.user_id)
    parents = f"par-{class_id}"
    for person in (head, pat, pam):
        await eventually(lambda p=person: _has_chat(a, p, parents))

    posted = await notes_a.PostAnnouncement(
        chat_pb2.PostAnnouncementRequest(chat_id=parents, client_message_id=uid("a"), text="Экскурсия в пятницу"),
        metadata=head.md,
    )
    seq = posted.message.seq
    await notes_b.ConfirmAnnouncement(chat_pb2.ConfirmAnnouncementRequest(chat_id=parents, seq=seq), metadata=pat.md)
    created = await polls_a.CreatePoll(
        chat_pb2.CreatePollRequest(
            chat_id=parents, client_message_id=uid("p"), question="Куда едем?", options=["Музей", "Театр"]
        ),
        metadata=head.md,
    )
    asked = created.message.seq
    await polls_b.Vote(chat_pb2.VoteRequest(chat_id=parents, seq=asked, option_indexes=[1]), metadata=pat.md)
    await polls_a.Vote(chat_pb2.VoteRequest(chat_id=parents, seq=asked, option_indexes=[0]), metadata=pam.md)
    up = await a.files.UploadFile(iter(upload_parts(uid("r"), b"%PDF diktant")), metadata=head.md)
    material = chat_pb2.PublishMaterialRequest(
        school_id=school.school_id, class_id=class_id, request_id="m1", title="Диктант", file_id=up.file.file_id
    )
    await materials_a.PublishMaterial(material, metadata=head.md)
    assert (await download(b, pam, up.file.file_id))[1] == b"%PDF diktant"
    # pat reacts to pam's message; pam's own reaction is hers.
    said = await b.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=parents, client_message_id=uid("m"), text="Спасибо!"), metadata=pam.md
    )
    for who, stubs in ((pat, a), (pam, b)):
        await stubs.chat.ReactToMessage(
            chat_pb2.ReactToMessageRequest(chat_id=parents, seq=said.message.seq, emoji="👍", add=True),
            metadata=who.md,
        )

    await world.account_deleted(head.user_id, 9)
    await world.account_deleted(pat.user_id, 9)
    client = create_mongo_client(world.mongo_uri, app_name="tests")
    try:
        erasures = client[world.database][ERASURES]

        async def reported() -> list[dict[str, Any]]:
            done = await erasures.find({"_id": {"$in": [head.user_id, pat.user_id]}, "state": "done"}).to_list()
            return done if len(done) == 2 else []

        ledger = {d["_id"]: d["counts"] for d in await eventually(reported, timeout=60)}
    finally:
        await client.close()
    theirs = ledger[head.user_id]
    assert (theirs["announcements"], theirs["polls"], theirs["materials"], theirs["files"]) == (1, 1, 1, 1)
    assert theirs["material_notes"] == 2  # the class's chat and its parents' chat
    assert (ledger[pat.user_id]["announcement_families"], ledger[pat.user_id]["announcement_confirmations"]) == (1, 1)
    assert ledger[pat.user_id]["poll_votes"] == 1
    assert ledger[pat.user_id]["reactions"] == 1

    # The announcement: no text; the family still confirmed, by no one's id; pat no longer its guardian.
    [shown] = (
        await notes_b.ListAnnouncements(chat_pb2.ListAnnouncementsRequest(chat_id=parents), metadata=pam.md)
    ).announcements
    assert shown.text == "" and shown.confirmed_count == 1
    [family] = shown.my_families
    assert family.confirmed and family.confirmed_by_user_id.startswith("erased-")
    assert list(family.guardian_user_ids) == [pam.user_id]
    # The poll: no question or option text, closed; both votes count, only pam's is named.
    [poll] = (await polls_b.ListPolls(chat_pb2.ListPollsRequest(chat_id=parents), metadata=pam.md)).polls
    assert poll.question == "" and [o.text for o in poll.options] == ["", ""] and poll.closed
    assert [(o.votes, list(o.voter_user_ids)) for o in poll.options] == [(1, [pam.user_id]), (1, [])]
    # The material: not listed, its file not downloadable, its notes untitled.
    listed = await materials_b.ListMaterials(
        chat_pb2.ListMaterialsRequest(school_id=school.school_id, class_id=class_id), metadata=pam.md
    )
    assert list(listed.materials) == []
    assert await _code(download(b, pam, up.file.file_id)) == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")
    history = await b.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=parents), metadata=pam.md)
    noted = [m for m in history.messages if m.system and m.system_note.kind == events.SYSTEM_KIND_MATERIAL_PUBLISHED]
    assert [(m.text, m.system_note.title) for m in noted] == [("Опубликован материал", "")]
    # Nothing they wrote anywhere in what pam reads; pat's id not in the announcement or the poll (ids
    # stay on chat's messages and notes: they name no one, docs/chat.md "Erasure").
    dumped = str(history) + str(shown) + str(poll)
    assert [w for w in ("Экскурсия", "Куда едем", "Музей", "Театр", "Диктант") if w in dumped] == []
    assert pat.user_id not in str(shown) + str(poll)
    # pat's reaction on pam's message still counts, under the erasure's token.
    [thanks] = [m for m in history.messages if m.seq == said.message.seq]
    [thumbs] = thanks.reactions
    assert len(thumbs.user_ids) == 2 and pat.user_id not in thumbs.user_ids and pam.user_id in thumbs.user_ids


async def _has_chat(stubs: Stubs, person: Person, chat_id: str) -> bool:
    return chat_id in await chat_ids(stubs, person)
