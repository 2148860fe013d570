"""Erasure of a deleted account in chat (app/erasure.py) on in-memory ports: messages become empty
placeholders (or are removed, per the school's policy), system notes lose the name, report
snapshots are blanked, owned files are deleted, memberships end, and a replay changes nothing and
reports nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from chat.api.consumers import ProvisioningHandler
from chat.api.erasure import ErasureHandler
from chat.app.erasure import Erasure
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.messages import Message, Reaction
from chat.domain.moderation import Report
from chat.domain.provisioning import SchoolInfo
from chat.domain.system_notes import member_joined
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity
from parta_common.safety import SchoolPolicy
from parta_common.testing.fakes import MemoryErasureLedger

from tests.chat.unit.fakes import Fakes, seed_chat

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
        "report_snapshots": 1,
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
