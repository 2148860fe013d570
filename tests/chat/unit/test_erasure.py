"""Erasure of a deleted account in chat (app/erasure.py) on in-memory ports: messages become empty
placeholders (or are removed, per the school's policy), system notes lose the name, report
snapshots are blanked, owned files are deleted, memberships end, and a replay changes nothing and
reports nothing twice. Announcements and polls they posted become placeholders (or go, with the
same policy), their confirmations and votes stay counted under no name, their materials go with
the title of the notes that announced them; read back through the use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from chat.api.consumers import ProvisioningHandler
from chat.api.erasure import ErasureHandler
from chat.app.erasure import Erasure
from chat.domain.announcements import Announcement, Reminder
from chat.domain.chats import Chat, ChatKind
from chat.domain.materials import Material
from chat.domain.members import Grant
from chat.domain.messages import Message, Reaction
from chat.domain.moderation import Report
from chat.domain.polls import Poll
from chat.domain.provisioning import SchoolInfo
from chat.domain.system_notes import SystemKind, member_joined
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity
from parta_common.safety import SchoolPolicy
from parta_common.testing.fakes import MemoryErasureLedger

from tests.chat.unit.fake_announcements import FakeAnnouncements, announcements_on
from tests.chat.unit.fake_materials import FakeMaterials, materials_on
from tests.chat.unit.fake_polls import FakePolls, polls_on
from tests.chat.unit.fakes import Fakes, seed_chat, set_grant
from tests.chat.unit.test_announcements import PARENTS, reason
from tests.chat.unit.test_announcements import fakes as cast  # noqa: F401 (a fixture: 5A's people and chats)

pytestmark = pytest.mark.unit

SCHOOL = "s1"
CLASS = "cls-5A"
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


@dataclass
class FakeErasureContent:
    fakes: Fakes

    async def messages_by(self, user_id: str, limit: int) -> list[Message]:
        rows = self.fakes.messages.rows.values()
        return [m for m in rows if m.sender_user_id == user_id and not m.system and not m.author_erased][:limit]

    async def notes_naming(self, user_id: str, limit: int) -> list[Message]:
        rows = self.fakes.messages.rows.values()
        return [
            m for m in rows if m.system_note and m.system_note.subject_user_id == user_id and m.system_note.subject_name
        ][:limit]

    async def erase_reports(self, user_id: str) -> int:
        changed = 0
        for rid, r in list(self.fakes.reports.rows.items()):
            if r.message is not None and r.message.sender_user_id == user_id and r.message.text:
                self.fakes.reports.rows[rid] = replace(r, message=replace(r.message, text="", author_erased=True))
                changed += 1
        return changed

    async def erase_file_names(self, owner: str) -> int:
        return 0

    async def notes_of_material(self, material_id: str, limit: int) -> list[Message]:
        found = []
        for m in self.fakes.messages.rows.values():
            if m.system_note and m.system_note.material_id == material_id and m.system_note.title:
                found.append(m)
        return found[:limit]

    async def reacted_by(self, user_id: str, limit: int) -> list[Message]:
        rows = self.fakes.messages.rows.values()
        return [m for m in rows if any(user_id in r.user_ids for r in m.reactions)][:limit]


@dataclass
class FakeErasureWorks:
    """ErasureWorks on the use cases' in-memory repositories (an empty one each when not given)."""

    notes: FakeAnnouncements | None = None
    polls: FakePolls | None = None
    materials: FakeMaterials | None = None

    async def announcements_by(self, user_id: str, limit: int) -> list[Announcement]:
        rows = self.notes.rows.values() if self.notes else []
        return [a for a in rows if a.author_user_id == user_id and a.text][:limit]

    async def save_erased_announcement(self, announcement: Announcement) -> bool:
        assert self.notes is not None
        if announcement.announcement_id not in self.notes.rows:
            return False
        self.notes.rows[announcement.announcement_id] = announcement
        return True

    async def reminders_of(self, announcement_id: str) -> list[Reminder]:
        assert self.notes is not None
        return [r for (a, _c, _d), r in self.notes.reminders.items() if a == announcement_id]

    async def remove_announcement(self, announcement_id: str) -> bool:
        assert self.notes is not None
        for key in [k for k in self.notes.reminders if k[0] == announcement_id]:
            del self.notes.reminders[key]
        for table in (self.notes.asked, self.notes.stored):
            for key in [k for k in table if k[0] == announcement_id]:
                del table[key]
        return self.notes.rows.pop(announcement_id, None) is not None

    async def anonymise_families(self, user_id: str, token: str) -> tuple[int, int]:
        if self.notes is None:
            return 0, 0
        stored = self.notes.stored
        theirs = [k for k, c in stored.items() if c.confirmed_by == user_id]
        stored.update({k: replace(stored[k], confirmed_by=token) for k in theirs})
        named = 0
        for (ann, child), family in list(self.notes.asked.items()):
            if user_id not in (child, *family.guardian_user_ids):
                continue
            named += 1
            key = (ann, token if child == user_id else child)
            guardians = tuple(g for g in family.guardian_user_ids if g != user_id)
            del self.notes.asked[(ann, child)]
            self.notes.asked[key] = replace(family, child_user_id=key[1], guardian_user_ids=guardians)
            if (confirmed := stored.pop((ann, child), None)) is not None:
                stored[key] = replace(confirmed, child_user_id=key[1])
        return named, len(theirs)

    async def polls_by(self, user_id: str, limit: int) -> list[Poll]:
        rows = self.polls.rows.values() if self.polls else []
        return [p for p in rows if p.author_user_id == user_id and p.question][:limit]

    async def save_erased_poll(self, poll: Poll) -> bool:
        assert self.polls is not None
        if poll.poll_id not in self.polls.rows:
            return False
        self.polls.rows[poll.poll_id] = poll
        return True

    async def remove_poll(self, poll_id: str) -> bool:
        assert self.polls is not None
        for key in [k for k in self.polls.stored if k[0] == poll_id]:
            del self.polls.stored[key]
        return self.polls.rows.pop(poll_id, None) is not None

    async def anonymise_votes(self, user_id: str) -> int:
        if self.polls is None:
            return 0
        named = {k: v for k, v in self.polls.stored.items() if v.voter_user_id == user_id}
        self.polls.stored.update({k: replace(v, voter_user_id="") for k, v in named.items()})
        return len(named)

    async def materials_by(self, user_id: str, limit: int) -> list[Material]:
        rows = self.materials.rows.values() if self.materials else []
        return [m for m in rows if m.published_by == user_id][:limit]

    async def remove_material(self, material_id: str) -> bool:
        assert self.materials is not None
        return self.materials.rows.pop(material_id, None) is not None


async def _chunks(data: bytes) -> AsyncIterator[tuple[int, bytes]]:
    yield 0, data


async def _world(policy: SchoolPolicy | None = None) -> tuple[Fakes, Erasure, MemoryErasureLedger]:
    fakes = Fakes()
    info = SchoolInfo(SCHOOL, "School", "Europe/Moscow", 480, 1080, policy or SchoolPolicy(), "ru")
    await fakes.facts.put_school(info, 1)
    chat = Chat(CLASS, SCHOOL, ChatKind.CLASS, title="5А")
    await seed_chat(fakes, chat, {"ann": Grant.STUDENT, "bob": Grant.STUDENT})
    rows = fakes.messages.rows
    for seq, (sender, text) in enumerate([("ann", "мой секрет"), ("bob", "hello"), ("ann", "ещё")], start=1):
        rows[f"m{seq}"] = Message(CLASS, f"m{seq}", seq, seq, SCHOOL, sender, text, T0)
    rows["m1"].reactions = [Reaction("👍", ["bob"])]
    rows["m2"].reactions = [Reaction("❤", ["ann", "bob"]), Reaction("👍", ["bob"])]
    rows["n4"] = Message(
        CLASS,
        "n4",
        4,
        4,
        SCHOOL,
        "",
        "Анна Иванова присоединилась",
        T0,
        system=True,
        system_note=member_joined("ann", "Анна Иванова"),
    )
    fakes.messages.seqs[CLASS] = 4
    stored = await fakes.app.files.upload("ann", "r-1", "дневник.pdf", "application/pdf", 3, _chunks(b"abc"))
    await fakes.files.attach([stored.file_id], CLASS, 3)
    rows["m3"].file_ids = [stored.file_id]
    await fakes.reports.add(Report("r1", CLASS, 1, "bob", "rude", T0, SCHOOL, message=replace(rows["m1"])))
    ledger = MemoryErasureLedger()
    erasure = Erasure(
        ledger,
        FakeErasureContent(fakes),
        FakeErasureWorks(),
        fakes.messages,
        fakes.members,
        fakes.facts,
        fakes.app.files,
        fakes.app.provisioning,
        fakes.clock,
    )
    return fakes, erasure, ledger


async def test_an_erased_authors_messages_become_empty_placeholders_and_everything_else_goes() -> None:
    fakes, erasure, ledger = await _world()
    file_id = fakes.messages.rows["m3"].file_ids[0]

    counts = await erasure.erase("ann", "ann", 7)

    rows = fakes.messages.rows
    for mid in ("m1", "m3"):
        m = rows[mid]
        assert (m.text, m.file_ids, m.reactions, m.author_erased, m.deleted) == ("", [], [], True, False)
        assert m.update_seq > 4  # a new update: live streams and Subscribe replays get the empty one
    assert rows["m2"].text == "hello" and not rows["m2"].author_erased
    # Her reaction on Bob's message still counts and names no one: the erasure's token stands in.
    hearts, thumbs = rows["m2"].reactions
    assert len(hearts.user_ids) == 2 and "ann" not in hearts.user_ids and hearts.user_ids[1] == "bob"
    assert hearts.user_ids[0].startswith("erased-") and thumbs.user_ids == ["bob"]
    assert rows["m2"].update_seq > 4  # live to every member like any change
    note = rows["n4"]
    assert note.system_note is not None and note.system_note.subject_name == "" and "Анна" not in note.text
    assert fakes.reports.rows["r1"].message is not None and fakes.reports.rows["r1"].message.text == ""
    assert await fakes.files.find(file_id) is None and file_id not in fakes.files.blobs
    assert await fakes.members.get(CLASS, "ann") is None
    profile = await fakes.facts.profile("ann")
    assert profile is not None and profile.deleted
    assert counts == {
        "chat_memberships": 1,
        "messages_replaced": 2,
        "messages_removed": 0,
        "names_in_system_messages": 1,
        "reactions": 1,
        "announcements": 0,
        "reminder_excerpts": 0,
        "announcement_families": 0,
        "announcement_confirmations": 0,
        "polls": 0,
        "poll_votes": 0,
        "report_snapshots": 1,
        "materials": 0,
        "material_notes": 0,
        "files": 1,
    }
    assert ledger.reports == [("ann", counts, "ann")]


async def test_a_school_that_removes_erased_messages_gets_them_deleted() -> None:
    fakes, erasure, _ledger = await _world(SchoolPolicy(erased_message_placeholders=False))
    counts = await erasure.erase("ann", "pam", 7)
    assert counts is not None and counts["messages_removed"] == 2 and counts["messages_replaced"] == 0
    assert all(fakes.messages.rows[m].deleted and not fakes.messages.rows[m].text for m in ("m1", "m3"))


async def test_a_replayed_account_deleted_changes_nothing_and_reports_once() -> None:
    fakes, erasure, ledger = await _world()
    handler = ProvisioningHandler(fakes.app.provisioning, ErasureHandler(erasure)).handle
    deleted = identity.AccountDeleted(user_id="ann", deleted_by_user_id="pam")
    envelope = envelope_pb2.EventEnvelope(event_id="e1", aggregate_version=7)
    envelope.payload.Pack(deleted)
    envelope.event_type = deleted.DESCRIPTOR.full_name
    await handler(envelope)
    after_first = {k: replace(v) for k, v in fakes.messages.rows.items()}
    await handler(envelope)
    assert fakes.messages.rows == after_first
    assert len(ledger.reports) == 1 and ledger.reports[0][2] == "pam"


async def test_an_interrupted_erasure_resumes_and_counts_what_it_did() -> None:
    fakes, erasure, ledger = await _world()
    # A crash after the first message: the ledger has the run, one message is erased already.
    run = await ledger.start("ann", "ann", T0)
    assert run is not None
    m1 = fakes.messages.rows["m1"]
    fakes.messages.rows["m1"] = replace(m1, text="", author_erased=True, update_seq=5)
    await ledger.add("ann", "messages_replaced", 1)
    counts = await erasure.erase("ann", "ann", 7)
    assert counts is not None and counts["messages_replaced"] == 2  # 1 before the crash + 1 after
    assert fakes.messages.rows["m3"].author_erased


async def test_a_message_changed_since_it_was_found_is_read_again_and_still_erased() -> None:
    fakes, erasure, _ledger = await _world()
    stale = {mid: replace(fakes.messages.rows[mid]) for mid in ("m1", "m3")}
    # A reaction lands on m1 after the erasure's query found it: the first write loses, the retry wins.
    reacted = await fakes.messages.next_seq(CLASS)  # 5
    fakes.messages.rows["m1"] = replace(
        fakes.messages.rows["m1"], reactions=[Reaction("❤", ["bob"])], update_seq=reacted
    )

    class Stale(FakeErasureContent):
        served = False

        async def messages_by(self, user_id: str, limit: int) -> list[Message]:
            if not self.served:
                self.served = True
                return list(stale.values())
            return await super().messages_by(user_id, limit)

    erasure.content = Stale(fakes)
    counts = await erasure.erase("ann", "ann", 7)
    m1 = fakes.messages.rows["m1"]
    assert m1.author_erased and not m1.text and not m1.reactions and m1.update_seq == 7
    assert counts is not None and counts["messages_replaced"] == 2
    assert (CLASS, 6) in fakes.messages.burned  # the losing write's sequence number is burned


# --- announcements, polls and materials (the cast of tests/chat/unit/test_announcements.py) ---------


def _erasure_of_works(
    fakes: Fakes, notes: FakeAnnouncements, polls: FakePolls, materials: FakeMaterials
) -> tuple[Erasure, MemoryErasureLedger]:
    ledger = MemoryErasureLedger()
    works = FakeErasureWorks(notes, polls, materials)
    app = fakes.app
    erasure = Erasure(
        ledger,
        FakeErasureContent(fakes),
        works,
        fakes.messages,
        fakes.members,
        fakes.facts,
        app.files,
        app.provisioning,
        fakes.clock,
    )
    return erasure, ledger


async def test_an_erased_teachers_announcement_poll_and_material_keep_nothing_of_theirs(cast: Fakes) -> None:  # noqa: F811
    fakes = cast
    notes, notes_repo = announcements_on(fakes)
    polls, polls_repo = polls_on(fakes)
    materials, materials_repo = materials_on(fakes)
    _view, posted = await notes.post("tom", PARENTS, "a-1", "Экскурсия в пятницу", None, False)
    await notes.confirm("pat", PARENTS, posted.seq)
    _poll, asked = await polls.create("tom", PARENTS, "p-1", "Куда едем?", ["Музей", "Театр"])
    await polls.vote("pat", PARENTS, asked.seq, [1])
    stored = await fakes.app.files.upload("tom", "r-1", "диктант.pdf", "application/pdf", 3, _chunks(b"pdf"))
    material = await materials.publish("tom", SCHOOL, "5A", "m-1", "Диктант", "к среде", file_id=stored.file_id)
    assert await fakes.app.files.open("pat", stored.file_id, 0) is not None  # the audience downloads it

    erasure, ledger = _erasure_of_works(fakes, notes_repo, polls_repo, materials_repo)
    counts = await erasure.erase("tom", "adm", 9)

    assert counts is not None
    assert (counts["announcements"], counts["polls"], counts["materials"], counts["material_notes"]) == (1, 1, 1, 2)
    assert counts["files"] == 1 and counts["poll_votes"] == 0 and counts["announcement_families"] == 0
    # The announcement: a placeholder; the families' confirmations stay (they are the families').
    [shown] = await notes.list("pat", PARENTS)
    assert shown.announcement.text == "" and shown.announcement.author_user_id == "tom"
    assert [c.confirmed_by for c in notes_repo.stored.values()] == ["pat", "pat"]
    # The poll: no question, no option text, closed; the counts stay.
    view = await polls.get("pat", PARENTS, asked.seq)
    assert view.poll.question == "" and view.poll.options == ["", ""] and view.closed
    assert view.results is not None and [(r.text, r.votes) for r in view.results] == [("", 0), ("", 1)]
    assert await reason(polls.vote("pam", PARENTS, asked.seq, [0])) == "POLL_CLOSED"
    # The material: gone from the list, its file gone, its notes untitled.
    assert await materials.list_materials("pat", SCHOOL, "5A", 0, 10) == []
    assert await reason(fakes.app.files.open("pat", stored.file_id, 0)) == "FILE_NOT_FOUND"
    noted = [m for m in fakes.messages.rows.values() if m.system_note and m.system_note.material_id]
    assert len(noted) == 2 and all(m.system_note.kind is SystemKind.MATERIAL_PUBLISHED for m in noted if m.system_note)
    assert all(m.system_note and not m.system_note.title and "Диктант" not in m.text for m in noted)
    assert material.material_id not in materials_repo.rows
    # Their messages (the announcement's and the poll's) are placeholders as every message of theirs.
    for seq in (posted.seq, asked.seq):
        m = next(m for m in fakes.messages.rows.values() if m.chat_id == PARENTS and m.seq == seq)
        assert m.author_erased and not m.text
    # A redelivery: nothing more to do, no second report.
    before = (dict(notes_repo.rows), dict(polls_repo.rows), dict(fakes.messages.rows))
    assert await erasure.erase("tom", "adm", 9) is None
    assert (dict(notes_repo.rows), dict(polls_repo.rows), dict(fakes.messages.rows)) == before
    assert len(ledger.reports) == 1


async def test_an_erased_parent_and_child_stay_counted_in_others_polls_unnamed(cast: Fakes) -> None:  # noqa: F811
    fakes = cast
    notes, notes_repo = announcements_on(fakes)
    polls, polls_repo = polls_on(fakes)
    _view, posted = await notes.post("tom", PARENTS, "a-1", "Собрание в среду", None, False)
    await notes.confirm("pat", PARENTS, posted.seq)  # for ann and bea
    _poll, asked = await polls.create("tom", PARENTS, "p-1", "Когда удобно?", ["Утром", "Вечером"])
    await polls.vote("pat", PARENTS, asked.seq, [0])
    await polls.vote("cal", PARENTS, asked.seq, [1])
    erasure, ledger = _erasure_of_works(fakes, notes_repo, polls_repo, FakeMaterials())

    counts = await erasure.erase("pat", "pat", 9)
    assert counts is not None and counts["announcement_families"] == 2 and counts["poll_votes"] == 1
    assert counts["announcement_confirmations"] == 2
    token = ledger.runs["pat"].token
    status = await notes.status("tom", PARENTS, posted.seq)
    assert status.view.announcement.text == "Собрание в среду"  # tom's, untouched
    assert len(status.confirmed) == 2 and len(status.unconfirmed) == 1  # still counted...
    rows = [(s.family.child_user_id, s.family.guardian_user_ids, s.confirmation) for s in status.confirmed]
    assert rows[0][:2] == ("ann", ("pam",)) and rows[1][:2] == ("bea", ())  # ...pat out of the guardians
    assert all(c is not None and c.confirmed_by == token for _child, _g, c in rows)  # ...and named by no one
    view = await polls.get("tom", PARENTS, asked.seq)
    assert view.results is not None and [r.votes for r in view.results] == [1, 1] and view.voters == 2
    assert [r.voter_user_ids for r in view.results] == [(), ("cal",)]  # pat's vote counts, unnamed

    # The child herself: her family row keeps counting under the token, not her id.
    counts = await erasure.erase("ann", "pam", 9)
    assert counts is not None and counts["announcement_families"] == 1
    children = [f.child_user_id for f, _c in await notes_repo.families(posted.message_id)]
    assert "ann" not in children and ledger.runs["ann"].token in children and len(children) == 3


async def test_a_removing_school_gets_erased_announcements_and_polls_removed(cast: Fakes) -> None:  # noqa: F811
    fakes = cast
    fakes.facts.schools[SCHOOL] = replace(
        fakes.facts.schools[SCHOOL], policy=SchoolPolicy(erased_message_placeholders=False)
    )
    notes, notes_repo = announcements_on(fakes)
    polls, polls_repo = polls_on(fakes)
    _view, posted = await notes.post("tom", PARENTS, "a-1", "Экскурсия", None, False)
    await notes.confirm("pat", PARENTS, posted.seq)
    _poll, asked = await polls.create("tom", PARENTS, "p-1", "Куда?", ["Музей", "Театр"])
    await polls.vote("pat", PARENTS, asked.seq, [0])
    erasure, _ledger = _erasure_of_works(fakes, notes_repo, polls_repo, FakeMaterials())

    counts = await erasure.erase("tom", "adm", 9)
    assert counts is not None and (counts["announcements"], counts["polls"]) == (1, 1)
    assert await notes.list("pat", PARENTS) == []
    assert await reason(notes.status("pam", PARENTS, posted.seq)) == "ANNOUNCEMENT_NOT_FOUND"
    assert await reason(polls.get("pat", PARENTS, asked.seq)) == "POLL_NOT_FOUND"
    assert not notes_repo.asked and not notes_repo.stored and not polls_repo.stored


async def test_a_reminder_another_moderator_sent_loses_the_erased_authors_words_only(cast: Fakes) -> None:  # noqa: F811
    fakes = cast
    await set_grant(fakes.members, PARENTS, SCHOOL, "adm", "seed", Grant.ADMIN)  # the school's admin moderates
    notes, notes_repo = announcements_on(fakes)
    _view, posted = await notes.post("tom", PARENTS, "a-1", "Сбор в 8:00 у школы", None, False)
    reminded = await notes.remind("adm", PARENTS, posted.seq)
    assert sorted(reminded.reached) == ["cal", "pam", "pat"]
    dms = [m for m in fakes.messages.rows.values() if m.sender_user_id == "adm"]
    assert len(dms) == 3 and all(m.text.endswith("Сбор в 8:00 у школы") for m in dms)
    erasure, _ledger = _erasure_of_works(fakes, notes_repo, FakePolls(), FakeMaterials())

    counts = await erasure.erase("tom", "adm", 9)

    assert counts is not None and counts["reminder_excerpts"] == 3
    for dm in dms:
        now = fakes.messages.rows[dm.message_id]
        assert "Сбор" not in now.text and now.text.startswith("Напоминание") and not now.author_erased
        assert now.update_seq > dm.update_seq  # a new version: live to the family
