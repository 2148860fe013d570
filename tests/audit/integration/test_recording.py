"""The audit trail on the real store and real Kafka: events in → entries out, redelivery and replay
change nothing, racing writers and racing consumers keep one dense chain, and tampering done directly
in the store is found by the verification."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from audit.adapters.mongo import ENTRIES, HEADS, PEOPLE, SUBMISSIONS, MongoChains, indexes
from audit.adapters.record_log import MongoRecordLog
from audit.api.consumers import TOPICS
from audit.api.recording import Recording
from audit.app.ports import Filters
from audit.app.trail import READ_KIND, AuditTrail
from audit.bootstrap import recording
from audit.domain.chain import Problem, Record
from google.protobuf.message import Message
from parta.chat.v1 import events_pb2 as chat_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.media_signal.v1 import events_pb2 as media_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.envelope import make_envelope
from parta_common.events.outbox import KafkaProducerHandle
from parta_common.events.writer import OutboxWriter
from parta_common.mongo import ensure_indexes
from parta_common.timestamps import ts

from tests.audit.fakes import FixedAdmins

SCHOOL = "sch-1"
TEACHER, STUDENT, PARENT, OTHER_PARENT, GUARDIAN = "u-teacher", "u-student", "u-parent", "u-parent2", "u-guardian"
SECRET_TEXT = "Миша, приходи один, никому не говори"
SEAL = "ab" * 32
GAP_ACTORS = {
    "school.role_changed": "admin",
    "school.invite_revoked": "admin",
    "school.invite_used": PARENT,
    "chat.message_reported": PARENT,
    "chat.member_muted": TEACHER,
    "chat.member_removed": TEACHER,
    "chat.settings_changed": TEACHER,
    "identity.birth_date_corrected": STUDENT,
    "identity.guardian_unlinked": PARENT,
}
PHONE = re.compile(r"\+?\d[\d ()-]{9,}\d")


def now() -> datetime:
    return datetime.now(UTC)


def envelope(payload: Message, aggregate: str, version: int, event_id: str | None = None) -> Any:
    return make_envelope(
        payload,
        aggregate_type="t",
        aggregate_id=aggregate,
        aggregate_version=version,
        producer="test",
        occurred_at=now(),
        event_id=event_id,
        traceparent="",
    )


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def db(mongo_db: Any) -> AsyncIterator[Any]:
    await ensure_indexes(mongo_db, indexes())
    yield mongo_db


def trail_on(db: Any) -> AuditTrail:
    """A trail over `db` for reading and verifying; what it records stays in the record log's outbox
    (no relay publishes it), so it never reaches the chain under test."""
    counter = iter(range(1, 1_000_000))
    return AuditTrail(
        chains=MongoChains(db),
        log=MongoRecordLog(db, OutboxWriter("audit-test"), lambda: None),
        admins=FixedAdmins({SCHOOL: {"admin"}}),
        now=now,
        new_id=lambda: f"r{next(counter)}",
    )


def membership(mid: str, user: str, role: int, child: str = "") -> school_pb2.MemberJoined:
    return school_pb2.MemberJoined(
        membership=school_pb2.MembershipSnapshot(
            membership_id=mid, school_id=SCHOOL, user_id=user, school_role=role, child_user_id=child
        )
    )


def profile(user: str, band: int) -> identity_pb2.ProfileCreated:
    return identity_pb2.ProfileCreated(
        profile=identity_pb2.ProfileSnapshot(user_id=user, first_name="Имя", age_band=band)
    )


def people() -> list[tuple[str, Any]]:
    """(topic, envelope) of a small school's people: memberships and profiles (age bands)."""
    ev: list[tuple[str, Any]] = [
        (topics.SCHOOL_MEMBERSHIP, envelope(membership("m1", TEACHER, school_pb2.SCHOOL_ROLE_TEACHER), SCHOOL, 1)),
        (topics.SCHOOL_MEMBERSHIP, envelope(membership("m2", STUDENT, school_pb2.SCHOOL_ROLE_STUDENT), SCHOOL, 2)),
        (
            topics.SCHOOL_MEMBERSHIP,
            envelope(membership("m3", PARENT, school_pb2.SCHOOL_ROLE_PARENT, STUDENT), SCHOOL, 3),
        ),
        (topics.SCHOOL_MEMBERSHIP, envelope(membership("m4", OTHER_PARENT, school_pb2.SCHOOL_ROLE_PARENT), SCHOOL, 4)),
        (topics.IDENTITY_USER, envelope(profile(TEACHER, identity_pb2.AGE_BAND_ADULT), TEACHER, 1)),
        (topics.IDENTITY_USER, envelope(profile(STUDENT, identity_pb2.AGE_BAND_MINOR), STUDENT, 1)),
        (topics.IDENTITY_USER, envelope(profile(PARENT, identity_pb2.AGE_BAND_ADULT), PARENT, 1)),
        (topics.IDENTITY_USER, envelope(profile(OTHER_PARENT, identity_pb2.AGE_BAND_ADULT), OTHER_PARENT, 1)),
    ]
    return ev


def school_day() -> list[tuple[str, Any]]:
    """(topic, envelope) of what happens once the people are known: a teacher–student DM, a
    parent–parent DM, a moderator's deletion, a guardian link and consent, a call, invites, a role
    change."""
    dm = "dm-teacher-student"
    dm2 = "dm-parents"
    ev: list[tuple[str, Any]] = []
    for chat_id, a, b in ((dm, TEACHER, STUDENT), (dm2, PARENT, OTHER_PARENT)):
        low, high = sorted((a, b))
        chat = chat_pb2.ChatSnapshot(
            chat_id=chat_id, school_id=SCHOOL, kind=chat_pb2.CHAT_KIND_DIRECT, created_by_user_id=f"{low},{high}"
        )
        ev.append((topics.CHAT_MESSAGE, envelope(chat_pb2.ChatCreated(chat=chat), chat_id, 1)))
    sent = now()
    for seq, (chat_id, sender) in enumerate(((dm, TEACHER), (dm, STUDENT), (dm2, PARENT)), start=1):
        msg = chat_pb2.MessageSnapshot(
            chat_id=chat_id, message_id=f"msg-{seq}", seq=seq, sender_user_id=sender, text=SECRET_TEXT, school_id=SCHOOL
        )
        msg.sent_at.FromDatetime(sent)
        # Keyed by the chat, as chat keys its topic: a DM's messages come after its ChatCreated.
        ev.append((topics.CHAT_MESSAGE, envelope(chat_pb2.MessagePosted(message=msg), chat_id, seq)))
    deleted = chat_pb2.MessageSnapshot(
        chat_id="class-chat", message_id="msg-9", seq=9, sender_user_id=STUDENT, deleted=True, school_id=SCHOOL
    )
    ev += [
        (
            topics.CHAT_MESSAGE,
            envelope(
                chat_pb2.MessageDeleted(
                    message=deleted, deleted_by_user_id=TEACHER, content_seal=SEAL, seal_key_id="k1"
                ),
                "msg-9",
                2,
            ),
        ),
        (
            topics.CHAT_MESSAGE,
            envelope(
                chat_pb2.ReportDecided(
                    report_id="rep-1",
                    school_id=SCHOOL,
                    chat_id="class-chat",
                    seq=9,
                    message_id="msg-9",
                    author_user_id=STUDENT,
                    reporter_user_id=PARENT,
                    moderator_user_id=TEACHER,
                    actions=["delete_message", "mute_author"],
                ),
                "rep-1",
                1,
            ),
        ),
        (
            topics.IDENTITY_USER,
            envelope(
                identity_pb2.GuardianLinked(guardian_user_id=PARENT, child_user_id=STUDENT, confirmed=True), STUDENT, 2
            ),
        ),
        (
            topics.IDENTITY_USER,
            envelope(
                identity_pb2.ConsentChanged(
                    user_id=STUDENT, consent_state=identity_pb2.CONSENT_STATE_GRANTED, guardian_user_id=PARENT
                ),
                STUDENT,
                3,
            ),
        ),
        (
            topics.IDENTITY_USER,
            envelope(
                identity_pb2.BirthDateChangeConfirmed(
                    user_id=STUDENT,
                    confirmed_by_user_id=PARENT,
                    confirmed_as="guardian",
                    previous_age_band=identity_pb2.AGE_BAND_MINOR,
                    age_band=identity_pb2.AGE_BAND_BELOW_CONSENT_AGE,
                ),
                STUDENT,
                4,
            ),
        ),
        (
            topics.IDENTITY_USER,
            envelope(identity_pb2.GuardianLinked(guardian_user_id=GUARDIAN, child_user_id="u-nobody"), "u-nobody", 1),
        ),
        (
            topics.SCHOOL_MEMBERSHIP,
            envelope(
                school_pb2.StaffVerified(school_id=SCHOOL, user_id=TEACHER, verified_by_user_id="admin"), SCHOOL, 5
            ),
        ),
        (
            topics.SCHOOL_MEMBERSHIP,
            envelope(
                school_pb2.MemberRoleChanged(
                    membership=school_pb2.MembershipSnapshot(
                        membership_id="m1", school_id=SCHOOL, user_id=TEACHER, school_role=school_pb2.SCHOOL_ROLE_ADMIN
                    ),
                    actor_user_id="admin",
                ),
                SCHOOL,
                6,
            ),
        ),
        (
            topics.SCHOOL_INVITE,
            envelope(
                school_pb2.InviteCreated(
                    invite=school_pb2.InviteSnapshot(
                        invite_id="inv-1",
                        school_id=SCHOOL,
                        role=school_pb2.SCHOOL_ROLE_PARENT,
                        child_user_id=STUDENT,
                        created_by_user_id=TEACHER,
                        max_uses=1,
                    )
                ),
                SCHOOL,
                7,
            ),
        ),
        (
            topics.SCHOOL_INVITE,
            envelope(
                school_pb2.InviteRevoked(
                    invite=school_pb2.InviteSnapshot(
                        invite_id="inv-1", school_id=SCHOOL, revoked=True, created_by_user_id=TEACHER
                    ),
                    actor_user_id="admin",
                ),
                SCHOOL,
                8,
            ),
        ),
    ]
    # Who did it, for the moderation and data actions docs/audit.md once listed as gaps.
    muted = chat_pb2.MemberMuted(
        chat_id="class-chat", school_id=SCHOOL, user_id=STUDENT, muted_by_user_id=TEACHER, muted_at=ts(sent)
    )
    muted.muted_until.FromDatetime(sent + timedelta(hours=1))
    class_chat = chat_pb2.ChatSnapshot(chat_id="class-chat", school_id=SCHOOL, kind=chat_pb2.CHAT_KIND_CLASS)
    ev += [
        (
            topics.SCHOOL_INVITE,
            envelope(
                school_pb2.InviteAccepted(
                    invite_id="inv-0",
                    school_id=SCHOOL,
                    user_id=PARENT,
                    child_user_id=STUDENT,
                    created_by_user_id=TEACHER,
                ),
                SCHOOL,
                9,
            ),
        ),
        (
            topics.CHAT_MESSAGE,
            envelope(
                chat_pb2.MessageReported(
                    report_id="rep-0",
                    school_id=SCHOOL,
                    chat_id="class-chat",
                    seq=8,
                    author_user_id=STUDENT,
                    reporter_user_id=PARENT,
                ),
                "rep-0",
                0,
            ),
        ),
        (topics.CHAT_MESSAGE, envelope(muted, f"class-chat|{STUDENT}", 0)),
        (
            topics.CHAT_MESSAGE,
            envelope(
                chat_pb2.MemberRemoved(chat_id="grp-1", user_id=STUDENT, removed_by_user_id=TEACHER, school_id=SCHOOL),
                f"grp-1|{STUDENT}",
                0,
            ),
        ),
        (
            topics.CHAT_MESSAGE,
            envelope(chat_pb2.ChatUpdated(chat=class_chat, changed_by_user_id=TEACHER), "class-chat", 3),
        ),
        (
            topics.IDENTITY_USER,
            envelope(
                identity_pb2.BirthDateCorrected(
                    user_id=STUDENT, corrected_by_user_id=STUDENT, age_band=identity_pb2.AGE_BAND_MINOR
                ),
                STUDENT,
                5,
            ),
        ),
        (
            topics.IDENTITY_USER,
            envelope(
                identity_pb2.GuardianUnlinked(
                    guardian_user_id=PARENT, child_user_id=STUDENT, unlinked_by_user_id=PARENT
                ),
                STUDENT,
                6,
            ),
        ),
    ]
    room = media_pb2.RoomSnapshot(
        room_id="room-1", school_id=SCHOOL, kind=media_pb2.ROOM_KIND_CALL, host_user_id=TEACHER
    )
    ev += [
        (topics.MEDIA_SIGNAL_ROOM, envelope(media_pb2.RoomStarted(room=room), "room-1", 1)),
        (
            topics.MEDIA_SIGNAL_ROOM,
            envelope(media_pb2.ParticipantJoined(room_id="room-1", school_id=SCHOOL, user_id=STUDENT), "room-1", 2),
        ),
        (
            topics.MEDIA_SIGNAL_ROOM,
            envelope(
                media_pb2.RoomEnded(
                    room=room, attendance=[media_pb2.AttendanceRecord(user_id=STUDENT, total_seconds=60)]
                ),
                "room-1",
                3,
            ),
        ),
    ]
    return ev


EXPECTED_KINDS = [
    "school.member_joined",
    "school.member_joined",
    "school.member_joined",
    "school.member_joined",
    "chat.direct_message",
    "chat.direct_message",
    "chat.message_deleted",
    "chat.report_decided",
    "identity.guardian_linked",
    "identity.consent_changed",
    "identity.birth_date_change_confirmed",
    "school.staff_verified",
    "school.role_changed",
    "school.invite_created",
    "school.invite_revoked",
    "school.invite_used",
    "chat.message_reported",
    "chat.member_muted",
    "chat.member_removed",
    "chat.settings_changed",
    "identity.birth_date_corrected",
    "identity.guardian_unlinked",
    "media.call_started",
    "media.call_joined",
    "media.call_ended",
]


async def publish(bootstrap: str, prefix: str, events: list[tuple[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for topic, env in events:
            await producer.send_and_wait(prefix + topic, env.SerializeToString(), key=env.aggregate_id.encode())
    finally:
        await producer.stop()


def consumer_for(
    db: Any, bootstrap: str, prefix: str, group: str, producer: KafkaProducerHandle, only: tuple[str, ...] = ()
) -> Recording:
    """The audit service's recorder, record log and chainer on `db` (the record log always read)."""
    return recording(
        db,
        FixedAdmins({SCHOOL: {"admin"}}),
        bootstrap=bootstrap,
        topic=lambda t: prefix + t,
        group_id=group,
        client_id=group,
        producer=producer,
        source_topics=only or TOPICS,
        initial_backoff=0.05,
    )


async def publish_day(db: Any, bootstrap: str, prefix: str, repeat_chat: bool = False) -> None:
    """The people first: whether a DM is recorded depends on who its two people are, and events of
    different topics arrive in any order (an unknown person is recorded as "unclassified")."""
    await publish(bootstrap, prefix, people())
    await until(lambda: _count(db, 4), "the four memberships")
    await until(lambda: _people(db, 4), "the four profiles")
    day = school_day()
    await publish(bootstrap, prefix, day + ([e for e in day if e[0] == topics.CHAT_MESSAGE] if repeat_chat else []))


async def _people(db: Any, n: int) -> bool:
    return await db[PEOPLE].count_documents({}) >= n


async def entries(db: Any, school: str = SCHOOL) -> list[dict[str, Any]]:
    return sorted(await db[ENTRIES].find({"school_id": school}).to_list(None), key=lambda d: d["seq"])


async def test_events_in_entries_out_and_redelivery_and_replay_change_nothing(
    db: Any, kafka_bootstrap: str, unique: str
) -> None:
    prefix = f"t{unique}."
    producer = KafkaProducerHandle(kafka_bootstrap, f"p-{unique}")
    live = consumer_for(db, kafka_bootstrap, prefix, f"g{unique}", producer)
    await live.start()
    try:
        # The chat events twice: a producer retry or an outbox republish (same event ids).
        await publish_day(db, kafka_bootstrap, prefix, repeat_chat=True)
        await until(lambda: _count(db, len(EXPECTED_KINDS)), "every entry")
        # Reading the trail is an entry of its own, through the same record log.
        await live.trail.list_entries("admin", "Bearer t", SCHOOL, 10, "", Filters())
        await until(lambda: _count(db, len(EXPECTED_KINDS) + 1), "the read's entry")
    finally:
        await live.stop()
    got = await entries(db)
    assert sorted(d["kind"] for d in got) == sorted([*EXPECTED_KINDS, READ_KIND])
    assert [d["seq"] for d in got] == list(range(1, len(EXPECTED_KINDS) + 2))

    dms = [d for d in got if d["kind"] == "chat.direct_message"]
    assert {(d["actor"], tuple(d["subjects"]), d["attrs"]["pair"]) for d in dms} == {
        (TEACHER, (STUDENT,), "staff-student"),
        (STUDENT, (TEACHER,), "staff-student"),
    }, "parent–parent DMs are not recorded; teacher–student ones both ways"
    deleted = next(d for d in got if d["kind"] == "chat.message_deleted")
    assert (deleted["actor"], deleted["subjects"], deleted["attrs"]["by_moderator"]) == (TEACHER, [STUDENT], "true")
    assert (deleted["attrs"]["content"], deleted["attrs"]["content_seal"]) == ("sealed", SEAL)
    # Every former gap names who did it.
    actors = {d["kind"]: d["actor"] for d in got}
    assert {k: actors[k] for k in GAP_ACTORS} == GAP_ACTORS
    decided = next(d for d in got if d["kind"] == "chat.report_decided")
    assert (decided["actor"], decided["subjects"], decided["attrs"]["actions"]) == (
        TEACHER,
        [STUDENT, PARENT],
        "delete_message,mute_author",
    )
    call = next(d for d in got if d["kind"] == "media.call_joined")
    assert (call["actor"], call["subjects"], call["attrs"]["room_id"]) == (STUDENT, [TEACHER], "room-1")
    link = next(d for d in got if d["kind"] == "identity.guardian_linked")
    assert (link["actor"], link["subjects"]) == (PARENT, [STUDENT])
    # No message text, no phone numbers, no names anywhere in what is stored.
    for d in got:
        flat = repr(d)
        assert SECRET_TEXT not in flat and "Миша" not in flat and "Имя" not in flat
        # Ids and hashes are hex; what is written in words (kinds and attributes) holds no phone number.
        words = " ".join([d["kind"], *d["attrs"].values()])
        assert not PHONE.search(words), words
    # The person in no school the trail knows is in no chain.
    assert await db[ENTRIES].count_documents({"subjects": "u-nobody"}) == 0

    # A replay of every topic from the start (a new consumer group) records nothing new, and the
    # recorder's second look submits nothing to the record log.
    before = await entries(db)
    submitted = await db[SUBMISSIONS].count_documents({})
    replay = consumer_for(db, kafka_bootstrap, prefix, f"g2{unique}", producer)
    await replay.start()
    try:
        await until(lambda: _lag_zero(replay.consumer), "the replay to reach the end", timeout=60)
    finally:
        await replay.stop()
    assert await entries(db) == before
    assert await db[SUBMISSIONS].count_documents({}) == submitted
    result = await trail_on(db).verify("admin", "Bearer t", SCHOOL)
    assert result.broken is None and result.checked == len(before)

    # A replay of every topic into an EMPTY audit database (docs/audit.md, "Rebuilding a trail")
    # rebuilds the SAME chain — every seq, time and hash — because the chain is built from the
    # record log alone. Two passes: the record log with the people's topics, then every topic (the
    # people known, every contact is judged as it was; what is chained already is not submitted).
    empty = db.client[db.name + "_rebuilt"]
    try:
        await ensure_indexes(empty, indexes())
        for n, only in enumerate(((topics.IDENTITY_USER, topics.SCHOOL_MEMBERSHIP), TOPICS)):
            rebuild = consumer_for(empty, kafka_bootstrap, prefix, f"g3-{n}-{unique}", producer, only)
            await rebuild.start()
            try:
                await until(lambda c=rebuild: _lag_zero(c.consumer), "the rebuild to reach the end", timeout=60)  # type: ignore[misc]
                await until(lambda: _count(empty, len(before)), "the rebuilt chain")
            finally:
                await rebuild.stop()
        assert await entries(empty) == before
        again = await trail_on(empty).verify("admin", "Bearer t", SCHOOL)
        assert again.broken is None and again.checked == len(before)
    finally:
        await db.client.drop_database(empty.name)
        await producer.close()


async def _count(db: Any, n: int) -> bool:
    return await db[ENTRIES].count_documents({"school_id": SCHOOL}) >= n


async def _lag_zero(consumer: EventConsumer) -> bool:
    inner = consumer._consumer  # the aiokafka consumer: its position against the end of each partition
    if inner is None or not inner.assignment():
        return False
    ends = await inner.end_offsets(list(inner.assignment()))
    for tp, end in ends.items():
        if await inner.position(tp) < end:
            return False
    return True


async def test_two_consumers_racing_on_the_same_events_keep_one_chain(
    db: Any, kafka_bootstrap: str, unique: str
) -> None:
    prefix = f"t{unique}."
    dlqs = [KafkaProducerHandle(kafka_bootstrap, f"dlq{i}-{unique}") for i in range(2)]
    # Two groups: each consumer receives every event, so every append races its twin.
    consumers = [consumer_for(db, kafka_bootstrap, prefix, f"g{i}{unique}", dlqs[i]) for i in range(2)]
    for c in consumers:
        await c.start()
    try:
        await publish_day(db, kafka_bootstrap, prefix)
        await until(lambda: _count(db, len(EXPECTED_KINDS)), "every entry")
        for c in consumers:
            await until(lambda c=c: _lag_zero(c.consumer), "both consumers to reach the end", timeout=90)
    finally:
        for c in consumers:
            await c.stop()
        for d in dlqs:
            await d.close()
    got = await entries(db)
    assert [d["seq"] for d in got] == list(range(1, len(EXPECTED_KINDS) + 1))
    assert len({d["source"] for d in got}) == len(got)
    result = await trail_on(db).verify("admin", "Bearer t", SCHOOL)
    assert result.broken is None and result.checked == len(EXPECTED_KINDS)


def _record(i: int, school: str = SCHOOL) -> Record:
    return Record(
        school_id=school,
        kind="chat.direct_message",
        actor=f"a{i}",
        subjects=(f"s{i}",),
        occurred_at=now(),
        source=f"ev-{i}",
        source_type="parta.chat.v1.MessagePosted",
        attrs={"chat_id": "dm-x", "seq": str(i)},
    )


async def test_many_writers_on_many_replicas_append_one_dense_chain(mongo_uri: str, db: Any) -> None:
    from parta_common.mongo import create_mongo_client

    # Four "replicas" (own clients) append 30 records each, every record offered by two of them.
    clients = [create_mongo_client(mongo_uri, app_name=f"audit-{i}") for i in range(4)]
    chains = [MongoChains(c[db.name]) for c in clients]
    try:

        async def writer(k: int) -> None:
            for i in range(60):
                if i % 4 in (k, (k + 1) % 4):
                    await chains[k].append(_record(i), now())

        await asyncio.gather(*(writer(k) for k in range(4)))
    finally:
        for c in clients:
            await c.close()
    got = await entries(db)
    assert [d["seq"] for d in got] == list(range(1, 61))
    assert sorted(d["source"] for d in got) == sorted(f"ev-{i}" for i in range(60))
    head = await db[HEADS].find_one({"_id": SCHOOL})
    assert head["seq"] == 60 and head["hash"] == got[-1]["hash"]
    assert (await trail_on(db).verify("admin", "Bearer t", SCHOOL)).broken is None


async def test_a_head_left_behind_by_a_stopped_writer_is_walked_forward(db: Any) -> None:
    chains = MongoChains(db)
    for i in range(3):
        await chains.append(_record(i), now())
    # A writer stopped after inserting entry 3 and before moving the head.
    await db[HEADS].update_one({"_id": SCHOOL}, {"$set": {"seq": 2, "hash": (await entries(db))[1]["hash"]}})
    entry = await chains.append(_record(3), now())
    assert entry.seq == 4
    assert [d["seq"] for d in await entries(db)] == [1, 2, 3, 4]
    assert (await trail_on(db).verify("admin", "Bearer t", SCHOOL)).broken is None


@pytest.mark.parametrize("tamper", ["delete", "alter", "alter_and_rehash", "swap", "delete_last"])
async def test_tampering_in_the_store_is_found(db: Any, tamper: str) -> None:
    chains = MongoChains(db)
    for i in range(8):
        await chains.append(_record(i), now())
    col = db[ENTRIES]
    docs = await entries(db)
    if tamper == "delete":
        await col.delete_one({"_id": f"{SCHOOL}/5"})
        expected = (5, Problem.MISSING)
    elif tamper == "delete_last":
        await col.delete_one({"_id": f"{SCHOOL}/8"})
        expected = (8, Problem.MISSING)
    elif tamper == "alter":
        await col.update_one({"_id": f"{SCHOOL}/3"}, {"$set": {"actor": "someone-else"}})
        expected = (3, Problem.ALTERED)
    elif tamper == "alter_and_rehash":
        from audit.adapters.mongo import from_document

        forged = from_document({**docs[2], "occurred_at": docs[2]["occurred_at"] - timedelta(days=1)})
        await col.update_one(
            {"_id": f"{SCHOOL}/3"}, {"$set": {"occurred_at": forged.occurred_at, "hash": forged.computed_hash()}}
        )
        expected = (4, Problem.LINK_BROKEN)
    else:  # swap the content of entries 4 and 5, keeping their ids and seqs
        fields = ("actor", "subjects", "attrs", "hash", "prev_hash")  # not source: it is unique
        a, b = docs[3], docs[4]
        await col.update_one({"_id": a["_id"]}, {"$set": {f: b[f] for f in fields}})
        await col.update_one({"_id": b["_id"]}, {"$set": {f: a[f] for f in fields}})
        expected = (4, Problem.ALTERED)
    result = await trail_on(db).verify("admin", "Bearer t", SCHOOL)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.problem) == expected
    assert result.checked == expected[0] - 1
