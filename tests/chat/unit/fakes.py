"""In-memory fakes of every chat port (app/ports.py), for the unit tier: they keep what the Mongo
repositories keep, with the same compare-and-set semantics, and record the events each write
carried (`events`), so a test can see that a change and its events went in one write."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from chat.app.messages import ChatPolicy
from chat.app.ports import DuplicateMessage, UploadSink
from chat.app.service import ChatApp, ChatPorts, build_app
from chat.app.writes import set_grant
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.files import FileKind, StoredFile, kind_of
from chat.domain.members import Grant, Member
from chat.domain.messages import Message
from chat.domain.moderation import CLASS_CHATS, Report, ReportState
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolInfo, SchoolRole
from chat.domain.sealing import Sealer
from parta_common.safety import PolicyBook
from parta_common.testing.fakes import FakeClock

Write = tuple[str, list[ev.ChatEvent]]  # (what was written, the events that rode along)


@dataclass
class FakeChats:
    rows: dict[str, Chat] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)

    async def get(self, chat_id: str) -> Chat | None:
        chat = self.rows.get(chat_id)
        return replace(chat) if chat is not None else None

    async def get_many(self, chat_ids: Sequence[str]) -> list[Chat]:
        return [replace(self.rows[c]) for c in chat_ids if c in self.rows]

    async def group_ids(self, school_id: str) -> list[str]:
        return [c.chat_id for c in self.rows.values() if c.school_id == school_id and c.kind is ChatKind.GROUP]

    async def add(self, chat: Chat, events: Sequence[ev.ChatEvent]) -> bool:
        if chat.chat_id in self.rows:
            return False
        self.rows[chat.chat_id] = replace(chat)
        self.writes.append((f"chat:{chat.chat_id}", list(events)))
        return True

    async def save(self, chat: Chat, expected_update_seq: int, events: Sequence[ev.ChatEvent]) -> bool:
        current = self.rows.get(chat.chat_id)
        if current is None or current.update_seq != expected_update_seq:
            return False
        self.rows[chat.chat_id] = replace(chat, member_count=current.member_count)
        self.writes.append((f"chat:{chat.chat_id}", list(events)))
        return True

    async def set_member_count(self, chat_id: str, count: int) -> None:
        if chat_id in self.rows:
            self.rows[chat_id].member_count = count


@dataclass
class FakeMembers:
    chats: FakeChats
    facts: FakeFacts
    rows: dict[tuple[str, str], Member] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)

    async def access(self, chat_id: str, user_id: str) -> tuple[Chat | None, Member | None, Profile | None]:
        if (chat_id, user_id) not in self.rows:
            return None, None, None
        return await self.chats.get(chat_id), await self.get(chat_id, user_id), await self.facts.profile(user_id)

    async def get(self, chat_id: str, user_id: str) -> Member | None:
        member = self.rows.get((chat_id, user_id))
        return replace(member) if member is not None and member.active else None

    async def find(self, chat_id: str, user_id: str) -> Member | None:
        member = self.rows.get((chat_id, user_id))
        return replace(member) if member is not None else None

    async def save(self, member: Member, expected_rev: int, events: Sequence[ev.ChatEvent]) -> bool:
        key = (member.chat_id, member.user_id)
        current = self.rows.get(key)
        if (current.rev if current is not None else 0) != expected_rev:
            return False
        kept = current if current is not None else member
        self.rows[key] = replace(
            member,
            rev=expected_rev + 1,
            last_read_seq=kept.last_read_seq,
            muted_until=kept.muted_until,
            last_sent_at=kept.last_sent_at,
        )
        self.writes.append((f"member:{member.chat_id}|{member.user_id}", list(events)))
        return True

    async def of_user(self, user_id: str, school_id: str = "") -> list[Member]:
        return [
            replace(m)
            for (_, u), m in self.rows.items()
            if u == user_id and m.active and (not school_id or m.school_id == school_id)
        ]

    async def user_ids(self, chat_id: str) -> list[str]:
        return [u for (c, u), m in self.rows.items() if c == chat_id and m.active]

    async def count(self, chat_id: str) -> int:
        return len(await self.user_ids(chat_id))

    async def set_muted(
        self, chat_id: str, user_id: str, until: datetime | None, events: Sequence[ev.ChatEvent] = ()
    ) -> None:
        if (chat_id, user_id) in self.rows:
            self.rows[chat_id, user_id].muted_until = until
            if events:
                self.writes.append((f"member:{chat_id}|{user_id}", list(events)))

    async def set_last_sent(self, chat_id: str, user_id: str, at: datetime) -> None:
        if (chat_id, user_id) in self.rows:
            self.rows[chat_id, user_id].last_sent_at = at

    async def mark_read(self, chat_id: str, user_id: str, seq: int, events: Sequence[ev.ChatEvent]) -> int | None:
        member = self.rows.get((chat_id, user_id))
        if member is None or member.last_read_seq >= seq:
            return None
        member.last_read_seq = seq
        self.writes.append((f"member:{chat_id}|{user_id}", list(events)))
        return seq

    async def last_read(self, chat_id: str, user_id: str) -> int:
        member = self.rows.get((chat_id, user_id))
        return member.last_read_seq if member is not None else 0

    async def count_read(self, chat_id: str, seq: int, exclude_user: str) -> tuple[int, int]:
        others = [m for (c, u), m in self.rows.items() if c == chat_id and m.active and u != exclude_user]
        return sum(1 for m in others if m.last_read_seq >= seq), len(others)


@dataclass
class FakeMessages:
    rows: dict[str, Message] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    burned: set[tuple[str, int]] = field(default_factory=set)
    writes: list[Write] = field(default_factory=list)

    async def next_seq(self, chat_id: str) -> int:
        self.seqs[chat_id] = self.seqs.get(chat_id, 0) + 1
        return self.seqs[chat_id]

    async def burn_seq(self, chat_id: str, seq: int) -> None:
        self.burned.add((chat_id, seq))

    async def last_seq(self, chat_id: str) -> int:
        return self.seqs.get(chat_id, 0)

    async def burned_in_range(self, chat_id: str, low: int, high: int) -> list[int]:
        return sorted(s for c, s in self.burned if c == chat_id and low < s < high)

    async def add(self, message: Message, events: Sequence[ev.ChatEvent]) -> None:
        if message.message_id in self.rows:
            raise DuplicateMessage(message.message_id)
        self.rows[message.message_id] = replace(message)
        self.writes.append((f"message:{message.message_id}", list(events)))

    async def get(self, message_id: str) -> Message | None:
        message = self.rows.get(message_id)
        return replace(message) if message is not None else None

    async def get_by_seq(self, chat_id: str, seq: int) -> Message | None:
        return next((replace(m) for m in self.rows.values() if m.chat_id == chat_id and m.seq == seq), None)

    async def save(self, message: Message, expected_update_seq: int, events: Sequence[ev.ChatEvent]) -> bool:
        current = self.rows.get(message.message_id)
        if current is None or current.update_seq != expected_update_seq:
            return False
        self.rows[message.message_id] = replace(message)
        self.writes.append((f"message:{message.message_id}", list(events)))
        return True

    def _of(self, chat_id: str) -> list[Message]:
        return [replace(m) for m in self.rows.values() if m.chat_id == chat_id]

    async def before(self, chat_id: str, before_seq: int, limit: int) -> list[Message]:
        page = sorted((m for m in self._of(chat_id) if not before_seq or m.seq < before_seq), key=lambda m: m.seq)
        return page[-limit:]

    async def after(self, chat_id: str, after_update_seq: int, limit: int) -> list[Message]:
        page = sorted((m for m in self._of(chat_id) if m.update_seq > after_update_seq), key=lambda m: m.update_seq)
        return page[:limit]

    async def in_update_range(self, chat_id: str, low: int, high: int) -> list[Message]:
        return sorted((m for m in self._of(chat_id) if low < m.update_seq < high), key=lambda m: m.update_seq)

    async def due_held(self, now: datetime, limit: int) -> list[Message]:
        due = [m for m in self.rows.values() if m.held_for and m.held_until is not None and m.held_until <= now]
        return [replace(m) for m in due[:limit]]

    async def held_in_school(self, school_id: str, limit: int) -> list[Message]:
        held = [replace(m) for m in self.rows.values() if m.held_for and m.school_id == school_id]
        return sorted(held, key=lambda m: m.sent_at)[:limit]

    async def count_unread(self, chat_id: str, user_id: str, after_seq: int, cap: int) -> int:
        found = [
            m
            for m in self._of(chat_id)
            if m.seq > after_seq and m.sender_user_id != user_id and not m.deleted and user_id not in m.held_for
        ]
        return min(len(found), cap)


@dataclass
class FakeReports:
    rows: dict[str, Report] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)

    async def add(self, report: Report, events: Sequence[ev.ChatEvent] = ()) -> None:
        if report.report_id not in self.rows:
            self.rows[report.report_id] = report
            if events:
                self.writes.append((f"report:{report.report_id}", list(events)))

    async def get(self, report_id: str) -> Report | None:
        return self.rows.get(report_id)

    def _newest(self, found: list[Report], limit: int) -> list[Report]:
        return sorted(found, key=lambda r: r.at, reverse=True)[:limit]

    async def of_school(
        self, school_id: str, *, include_closed: bool, limit: int, classes: Sequence[str] | None = None
    ) -> list[Report]:
        found = [
            r
            for r in self.rows.values()
            if r.school_id == school_id
            and (include_closed or r.state is ReportState.OPEN)
            and (classes is None or (r.class_id in classes and r.chat_kind in CLASS_CHATS))
        ]
        return self._newest(found, limit)

    async def of_reporter(self, reporter: str, limit: int) -> list[Report]:
        return self._newest([r for r in self.rows.values() if r.reporter == reporter], limit)

    async def decide(self, report: Report, expected_decisions: int, events: Sequence[ev.ChatEvent]) -> bool:
        current = self.rows.get(report.report_id)
        if current is None or len(current.decisions) != expected_decisions:
            return False
        self.rows[report.report_id] = report
        self.writes.append((f"report:{report.report_id}", list(events)))
        return True


@dataclass
class FakePreferences:
    blocked: dict[str, set[str]] = field(default_factory=dict)
    urgent_off: set[str] = field(default_factory=set)

    async def block(self, user_id: str, blocked: str) -> None:
        self.blocked.setdefault(user_id, set()).add(blocked)

    async def unblock(self, user_id: str, blocked: str) -> None:
        self.blocked.get(user_id, set()).discard(blocked)

    async def get(self, user_id: str) -> tuple[list[str], bool]:
        return sorted(self.blocked.get(user_id, set())), user_id not in self.urgent_off

    async def set_urgent_notifications(self, user_id: str, enabled: bool) -> None:
        if enabled:
            self.urgent_off.discard(user_id)
        else:
            self.urgent_off.add(user_id)


@dataclass
class FakeUrgentAllowance:
    used: dict[str, list[str]] = field(default_factory=dict)

    async def use(self, sender: str, school_id: str, day: str, message_id: str, per_day: int) -> bool:
        ids = self.used.setdefault(f"{sender}|{school_id}|{day}", [])
        if message_id in ids:
            return True
        if len(ids) >= per_day:
            return False
        ids.append(message_id)
        return True


class _Sink:
    """Stores whole blocks of `FakeFiles.block` bytes as they fill, the last one on close (as the
    GridFS sink does with its 255 KiB chunks)."""

    def __init__(self, files: FakeFiles, file_id: str, start: int):
        self._files, self._file_id = files, file_id
        self._buffer = b""

    async def write(self, data: bytes) -> None:
        self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % self._files.block
        if whole:
            self._files.blobs[self._file_id] = self._files.blobs.get(self._file_id, b"") + self._buffer[:whole]
            self._buffer = self._buffer[whole:]

    async def close(self) -> None:
        self._files.blobs[self._file_id] = self._files.blobs.get(self._file_id, b"") + self._buffer
        self._buffer = b""

    async def abort(self) -> None:
        self._files.blobs.pop(self._file_id, None)

    async def suspend(self) -> None:
        self._buffer = b""


@dataclass
class FakeFiles:
    rows: dict[str, tuple[StoredFile, bool]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    # Deleted files: file id → (when, purged).
    deleted: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    resumable: set[str] = field(default_factory=set)
    block: int = 1  # how many bytes the sink stores at a time

    def _live(self) -> list[tuple[StoredFile, bool]]:
        return [(f, done) for f, done in self.rows.values() if f.file_id not in self.deleted]

    async def find(self, file_id: str) -> tuple[StoredFile, bool] | None:
        return None if file_id in self.deleted else self.rows.get(file_id)

    async def used_bytes(self, owner: str) -> int:
        return sum(f.size_bytes for f, _ in self._live() if f.owner_user_id == owner)

    async def reserve(self, file: StoredFile, resumable: bool = False) -> bool:
        if file.file_id in self.rows:
            return False
        self.rows[file.file_id] = (file, False)
        if resumable:
            self.resumable.add(file.file_id)
        return True

    def sink(self, file: StoredFile, start: int = 0) -> UploadSink:
        return _Sink(self, file.file_id, start)

    async def resumable_upload(self, file_id: str) -> StoredFile | None:
        found = await self.find(file_id)
        return found[0] if found is not None and not found[1] and file_id in self.resumable else None

    async def received_bytes(self, file_id: str) -> int:
        return len(self.blobs.get(file_id, b""))

    async def complete(self, file_id: str, sha256_hex: str) -> None:
        file, _ = self.rows[file_id]
        self.rows[file_id] = (replace(file, sha256_hex=sha256_hex), True)

    async def discard(self, file_id: str) -> None:
        self.blobs.pop(file_id, None)
        if file_id in self.rows and not self.rows[file_id][1]:
            del self.rows[file_id]

    async def read(self, file_id: str, offset: int, chunk: int) -> AsyncIterator[bytes]:
        data = self.blobs.get(file_id, b"")[offset:]
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    async def list_owned(self, owner: str, skip: int, limit: int) -> list[StoredFile]:
        owned = [f for f, done in self._live() if f.owner_user_id == owner and done]
        return sorted(owned, key=lambda f: f.uploaded_at, reverse=True)[skip : skip + limit]

    async def stale_uploads(self, before: datetime, resumable_before: datetime) -> list[str]:
        return [
            f.file_id
            for f, done in self.rows.values()
            if not done and f.uploaded_at < (resumable_before if f.file_id in self.resumable else before)
        ]

    async def attach(self, file_ids: Sequence[str], chat_id: str, seq: int = 0) -> None:
        for file_id in file_ids:
            file, done = self.rows[file_id]
            refs = (*file.refs, (chat_id, seq)) if seq and (chat_id, seq) not in file.refs else file.refs
            chats = file.chat_ids if chat_id in file.chat_ids else (*file.chat_ids, chat_id)
            self.rows[file_id] = (replace(file, chat_ids=chats, refs=refs), done)

    async def mark_deleted(self, file_id: str, owner: str, at: datetime) -> StoredFile | None:
        found = self.rows.get(file_id)
        if found is None or not found[1] or found[0].owner_user_id != owner:
            return None
        self.deleted.setdefault(file_id, (at, False))
        return found[0]

    async def purge(self, file_id: str) -> None:
        self.blobs.pop(file_id, None)
        at, _ = self.deleted[file_id]
        self.deleted[file_id] = (at, True)
        file, done = self.rows[file_id]
        self.rows[file_id] = (replace(file, chat_ids=()), done)

    async def unfinished_deletions(self, before: datetime) -> list[StoredFile]:
        return [self.rows[i][0] for i, (at, purged) in self.deleted.items() if not purged and at < before]

    async def detach(self, file_id: str, chat_id: str) -> None:
        file, done = self.rows[file_id]
        self.rows[file_id] = (replace(file, chat_ids=tuple(c for c in file.chat_ids if c != chat_id)), done)

    async def list_in_chat(self, chat_id: str, kind: FileKind, skip: int, limit: int) -> list[StoredFile]:
        found = [
            f
            for f, done in self._live()
            if done and chat_id in f.chat_ids and kind in (FileKind.UNSPECIFIED, kind_of(f.content_type))
        ]
        return sorted(found, key=lambda f: f.uploaded_at, reverse=True)[skip : skip + limit]


@dataclass
class FakeFileQuotas:
    rows: dict[str, int] = field(default_factory=dict)

    async def get(self, school_id: str) -> int | None:
        return self.rows.get(school_id)

    async def put(self, school_id: str, quota_bytes: int, by: str, at: datetime) -> None:
        if quota_bytes:
            self.rows[school_id] = quota_bytes
        else:
            self.rows.pop(school_id, None)

    async def of_schools(self, school_ids: Sequence[str]) -> list[int]:
        return [self.rows[s] for s in school_ids if s in self.rows]


@dataclass
class FakeFacts:
    """SchoolFacts and ProjectionStore: the projections, applied by version."""

    memberships: list[Membership] = field(default_factory=list)
    profiles: dict[str, Profile] = field(default_factory=dict)
    schools: dict[str, SchoolInfo] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    reads: list[tuple[str, str]] = field(default_factory=list)  # memberships_of calls (school, user)

    async def memberships_of(self, school_id: str, user_id: str) -> list[Membership]:
        self.reads.append((school_id, user_id))
        return [m for m in self.memberships if m.school_id == school_id and m.user_id == user_id and m.active]

    async def school(self, school_id: str) -> SchoolInfo | None:
        return self.schools.get(school_id)

    async def profile(self, user_id: str) -> Profile | None:
        return self.profiles.get(user_id)

    def _newer(self, key: str, version: int) -> bool:
        if self.versions.get(key, -1) >= version:
            return False
        self.versions[key] = version
        return True

    async def put_school(self, school: SchoolInfo, version: int) -> bool:
        if not self._newer(f"school:{school.school_id}", version):
            return False
        self.schools[school.school_id] = school
        return True

    async def put_membership(self, membership: Membership, version: int) -> Membership | Literal[False] | None:
        if not self._newer(f"membership:{membership.membership_id}", version):
            return False
        before = next((m for m in self.memberships if m.membership_id == membership.membership_id), None)
        self.memberships = [m for m in self.memberships if m.membership_id != membership.membership_id]
        self.memberships.append(membership)
        return before

    async def put_profile(self, profile: Profile, version: int) -> bool:
        if not self._newer(f"profile:{profile.user_id}", version):
            return False
        self.profiles[profile.user_id] = profile
        return True


@dataclass
class Fakes:
    """Every chat port in memory, the use cases built on them, a clock a test moves."""

    chats: FakeChats = field(default_factory=FakeChats)
    messages: FakeMessages = field(default_factory=FakeMessages)
    facts: FakeFacts = field(default_factory=FakeFacts)
    reports: FakeReports = field(default_factory=FakeReports)
    files: FakeFiles = field(default_factory=FakeFiles)
    file_quotas: FakeFileQuotas = field(default_factory=FakeFileQuotas)
    policies: PolicyBook = field(default_factory=PolicyBook)
    preferences: FakePreferences = field(default_factory=FakePreferences)
    urgent: FakeUrgentAllowance = field(default_factory=FakeUrgentAllowance)
    clock: FakeClock = field(default_factory=lambda: FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC)))
    notified: int = 0
    # Seals deleted content (chat.domain.sealing); None: no sealing key, as in development.
    sealer: Sealer | None = None
    members: FakeMembers = field(init=False)
    app: ChatApp = field(init=False)

    def __post_init__(self) -> None:
        self.members = FakeMembers(self.chats, self.facts)
        ports = ChatPorts(
            self.chats,
            self.members,
            self.messages,
            self.reports,
            self.files,
            self.facts,
            self.facts,
            self.policies,
            self.file_quotas,
            self.preferences,
            self.urgent,
        )
        self.app = build_app(ports, self.clock, self._notify, policy=ChatPolicy(sealer=self.sealer))

    def _notify(self) -> None:
        self.notified += 1

    def events(self) -> list[ev.ChatEvent]:
        """Every event written, in order of the writes."""
        return [e for _, es in self.chats.writes + self.members.writes + self.messages.writes for e in es]


_ids = itertools.count()


def seat(
    school_id: str,
    user_id: str,
    role: SchoolRole,
    class_id: str = "",
    class_role: ClassRole = ClassRole.NONE,
    *,
    child: str = "",
    verified: bool = True,
) -> Membership:
    """One seat in chat's membership projection (staff verified unless said otherwise)."""
    return Membership(f"m-{next(_ids)}", school_id, user_id, role, class_id, class_role, child, verified=verified)


async def seed_chat(fakes: Fakes, chat: Chat, members: dict[str, Grant]) -> Chat:
    """A chat as provisioning or a creator leaves it: its members granted, counted."""
    await fakes.chats.add(chat, [])
    for user_id, grant in members.items():
        await set_grant(fakes.members, chat.chat_id, chat.school_id, user_id, "seed", grant)
    await fakes.chats.set_member_count(chat.chat_id, len(members))
    fakes.chats.writes.clear()
    fakes.members.writes.clear()
    return chat
