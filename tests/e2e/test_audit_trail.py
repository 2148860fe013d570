"""The audit trail end to end — identity, school, chat and audit as processes: a verified teacher
class head writes to a student and deletes the message; the school's admin lists the entries (who,
whom, which chat, when — never the text or a phone number; the deletion sealed so that chat's key
tells the deleted text from any other; which invite each person used), a teacher, a parent and a stranger are
refused with PERMISSION_DENIED, every admin read is itself an entry, and the chain verifies; the same
through the web gateway (an admin's POST lists the trail, a parent's is 403)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from typing import Any

import grpc
import pytest
from chat.domain.sealing import Sealer
from chat.pb import message_from_pb
from google.protobuf.json_format import MessageToJson
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta.chat.v1 import chat_pb2

from tests.chat.support import Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in
from tests.e2e.web_support import Browser, start_gateway

OPERATOR = random_phone()
SECRET = "Миша, это секрет: позвони мне на +7 999 123-45-67"


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_admins_read_the_trail_others_are_refused_and_reading_is_recorded(stack: Stack) -> None:
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat = await stack.start("chat")
    audit = await stack.start("audit")
    address = school_svc.address
    phones: list[str] = [OPERATOR]

    async def person(first: str, birth_date: str) -> Person:
        phone = random_phone()
        phones.append(phone)
        signed = await sign_in(identity.address, phone, stack.sms_file)
        await create_profile(identity.address, signed.access_token, first, "Иванова", birth_date)
        return Person(signed.user_id, signed.access_token)

    operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
    admin_phone = random_phone()
    phones.append(admin_phone)
    school = await sc.register_school(address, operator.access_token, admin_phone=admin_phone)
    admin_signed = await sign_in(identity.address, admin_phone, stack.sms_file)
    await sc.claim(address, admin_signed.access_token)
    await create_profile(identity.address, admin_signed.access_token, "Ольга", "Смирнова", "1980-01-01")
    admin = Person(admin_signed.user_id, admin_signed.access_token)
    sid = school.school_id
    klass = await sc.create_class(address, admin.token, sid, 7, "Б")
    teacher = await person("Пётр", "1985-03-14")
    student = await person("Миша", "2010-02-01")  # a minor past the consent age
    parent = await person("Анна", "1984-06-01")
    stranger = await person("Чужой", "1990-01-01")
    await sc.join_school(address, admin.token, sid, teacher.token, sc.TEACHER)
    await sc.verify_staff(address, admin.token, sid, teacher.user_id)
    # A student's verified class head may write to them (docs/safety.md, R1).
    await sc.set_class_head(address, admin.token, klass.class_id, teacher.user_id)
    await sc.join_school(address, admin.token, sid, student.token, sc.STUDENT, class_id=klass.class_id)
    await sc.join_school(
        address, admin.token, sid, parent.token, sc.PARENT, class_id=klass.class_id, child_user_id=student.user_id
    )

    # The teacher writes to the student directly, then deletes the message.
    stubs = Stubs(grpc.aio.insecure_channel(chat.address))
    opened = await eventually(
        lambda: stubs.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=student.user_id), metadata=teacher.md
        )
    )
    chat_id = opened.chat.chat.chat_id
    sent = await stubs.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="m1", text=SECRET), metadata=teacher.md
    )
    await stubs.chat.DeleteMessage(
        chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=sent.message.seq), metadata=teacher.md
    )

    trail = audit_pb2_grpc.AuditServiceStub(grpc.aio.insecure_channel(audit.address))
    reads = 0

    async def listed(**filters: str) -> list[audit_pb2.AuditEntry]:
        """Every page, newest first (each page's call is itself an entry)."""
        nonlocal reads
        found: list[audit_pb2.AuditEntry] = []
        token = ""
        while True:
            reply = await trail.ListAuditEntries(
                audit_pb2.ListAuditEntriesRequest(school_id=sid, page_size=100, page_token=token, **filters),
                metadata=admin.md,
            )
            reads += 1
            found.extend(reply.entries)
            token = reply.next_page_token
            if not token:
                return found

    async def dm_recorded() -> list[audit_pb2.AuditEntry] | None:
        entries = await listed()
        kinds = {e.kind for e in entries}
        wanted = {"chat.direct_message", "chat.message_deleted", "school.staff_verified", "school.invite_used"}
        return entries if wanted <= kinds else None

    entries = await eventually(dm_recorded, timeout=60, interval=0.3)
    dm = next(e for e in entries if e.kind == "chat.direct_message")
    assert (dm.actor_user_id, list(dm.subject_user_ids)) == (teacher.user_id, [student.user_id])
    assert dm.attributes["chat_id"] == chat_id
    # "unclassified" when the audit service had not yet seen a profile event (topics interleave);
    # tests/audit/integration pins the classification itself.
    assert dm.attributes["pair"] in ("staff-student", "unclassified")
    assert "seq" in dm.attributes and "message_id" in dm.attributes
    deleted = next(e for e in entries if e.kind == "chat.message_deleted")
    assert deleted.actor_user_id == teacher.user_id and deleted.attributes["by_moderator"] == "false"
    assert list(deleted.subject_user_ids) == [
        teacher.user_id,
        student.user_id,
    ]  # the sender, then the DM's other person
    assert deleted.attributes["direct"] == "true" and deleted.attributes["seq"] == str(sent.message.seq)
    # Sealed: whoever holds chat's sealing key can tell the deleted text from any other (docs/audit.md).
    assert deleted.attributes["content"] == "sealed"
    sealer = Sealer(stack.sealing_key.encode(), deleted.attributes["seal_key_id"])
    assert sealer.matches(deleted.attributes["content_seal"], message_from_pb(sent.message))
    assert not sealer.matches(deleted.attributes["content_seal"], replace(message_from_pb(sent.message), text="hi"))
    used = [e for e in entries if e.kind == "school.invite_used" and e.actor_user_id == parent.user_id]
    assert used and list(used[0].subject_user_ids) == [parent.user_id, student.user_id]
    verified = next(e for e in entries if e.kind == "school.staff_verified")
    assert (verified.actor_user_id, list(verified.subject_user_ids)) == (admin.user_id, [teacher.user_id])
    joined = [e for e in entries if e.kind == "school.member_joined" and e.subject_user_ids[0] == parent.user_id]
    assert joined and student.user_id in joined[0].subject_user_ids
    # Newest first, a dense chain, each entry linked to the one before it.
    seqs = [e.seq for e in entries]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 1 and len(set(seqs)) == len(seqs) == seqs[0]
    for newer, older in itertools.pairwise(entries):
        assert newer.prev_hash == older.hash

    # Never the text, never a phone number, in anything the trail holds.
    everything = "\n".join(MessageToJson(e) for e in await listed())
    assert "секрет" not in everything and "Миша" not in everything and "123-45-67" not in everything
    for phone in phones:  # as written, without the +, and its subscriber number alone
        assert phone not in everything and phone[1:] not in everything and phone[-7:] not in everything

    # Everyone else is refused, whatever they ask for.
    for who in (teacher, parent, student, stranger):
        for call in (
            trail.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(school_id=sid), metadata=who.md),
            trail.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(school_id=sid), metadata=who.md),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await trail.ListAuditEntries(audit_pb2.ListAuditEntriesRequest(school_id=sid))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED

    # Every admin read is an entry of its own — submitted before the page is read, chained moments
    # later through the record log (docs/audit.md) — and the refused attempts left none.
    made = reads

    async def reads_chained() -> list[audit_pb2.AuditEntry] | None:
        found = await listed(kind="audit.read")
        return found if len(found) >= made else None

    latest = await eventually(reads_chained, timeout=30, interval=0.3)
    assert all(e.actor_user_id == admin.user_id for e in latest)
    by_actor = await listed(actor_user_id=teacher.user_id)
    assert {e.kind for e in by_actor} >= {"chat.direct_message", "chat.message_deleted"}
    assert all(e.actor_user_id == teacher.user_id for e in by_actor)

    verdict = await trail.VerifyAuditChain(audit_pb2.VerifyAuditChainRequest(school_id=sid), metadata=admin.md)
    assert verdict.intact and verdict.entries_checked == verdict.head_seq >= len(entries)

    async def verification_chained() -> list[audit_pb2.AuditEntry] | None:
        found = await listed()
        return found if any(e.kind == "audit.verified" and e.seq > verdict.head_seq for e in found) else None

    after = await eventually(verification_chained, timeout=30, interval=0.3)
    assert verdict.head_hash == next(e.hash for e in after if e.seq == verdict.head_seq)

    # Through the web gateway (docs/web.md): the browser's session cookie, the audit service's own check.
    gateway = await start_gateway(stack, "web-audit")
    admin_page, parent_page = Browser(gateway), Browser(gateway)
    try:
        admin_page.cookies = {"parta_at": admin.token}
        parent_page.cookies = {"parta_at": parent.token}
        listing = {"schoolId": sid, "pageSize": 100}
        by_web = await admin_page.call("parta.audit.v1.AuditService/ListAuditEntries", listing)
        assert by_web.status == 200, by_web.text
        assert {"chat.direct_message", "chat.message_deleted", "audit.verified"} <= {
            e["kind"] for e in by_web.json["entries"]
        }
        # A read through the web is recorded like any other: listing the admin's own entries is an
        # audit.read naming that filter (no gRPC listing above filters by the admin), chained moments later.
        own = {"schoolId": sid, "pageSize": 100, "actorUserId": admin.user_id}

        async def web_read_chained() -> list[dict[str, Any]] | None:
            mine = await admin_page.call("parta.audit.v1.AuditService/ListAuditEntries", own)
            assert mine.status == 200, mine.text
            found: list[dict[str, Any]] = mine.json["entries"]
            return [
                e
                for e in found
                if e["kind"] == "audit.read" and e.get("attributes", {}).get("filters") == f"actor={admin.user_id}"
            ] or None

        await eventually(web_read_chained, timeout=30, interval=0.3)
        checked = await admin_page.ok("parta.audit.v1.AuditService/VerifyAuditChain", {"schoolId": sid})
        assert checked["intact"] is True
        for method, body in (("ListAuditEntries", listing), ("VerifyAuditChain", {"schoolId": sid})):
            refused_by_web = await parent_page.call(f"parta.audit.v1.AuditService/{method}", body)
            assert refused_by_web.status == 403, refused_by_web.text
            assert refused_by_web.json["code"] == "PERMISSION_DENIED"
    finally:
        await admin_page.close()
        await parent_page.close()
        gateway.stop()
