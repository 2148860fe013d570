"""Ports of chat's use cases, one per aggregate: adapters/mongo implements them, tests/chat/unit/fakes.py
fakes them. A repository's `save(entity, expected_version, events)` writes the change and its
events in one document write, or returns False when the entity changed since it was read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Literal, Protocol

from parta_common.safety import SchoolPolicy

from chat.domain.announcements import Announcement, Reminder
from chat.domain.chats import Chat
from chat.domain.events import ChatEvent
from chat.domain.exports import DataExport, Part
from chat.domain.files import FileKind, StoredFile
from chat.domain.materials import Material
from chat.domain.members import Member
from chat.domain.messages import Message
from chat.domain.moderation import Report
from chat.domain.polls import Poll
from chat.domain.provisioning import Membership, Profile, SchoolInfo


class DuplicateMessage(Exception):
    """The message id (derived from the client message id) is already stored."""


class ChatRepository(Protocol):
    async def get(self, chat_id: str) -> Chat | None: ...
    async def get_many(self, chat_ids: Sequence[str]) -> list[Chat]: ...
    async def group_ids(self, school_id: str) -> list[str]: ...
    async def add(self, chat: Chat, events: Sequence[ChatEvent]) -> bool:
        """Creates the chat (and its sequence) with its events; False when the id exists."""

    async def save(self, chat: Chat, expected_update_seq: int, events: Sequence[ChatEvent]) -> bool:
        """Writes the chat's settings, version and update_seq with `events`, if its update_seq is
        still `expected_update_seq`. member_count is not written (see set_member_count)."""

    async def set_member_count(self, chat_id: str, count: int) -> None:
        """A counter, not a setting: no event, no update_seq."""


class MemberRepository(Protocol):
    """Members of chats and their read state (one document per member and chat)."""

    async def access(self, chat_id: str, user_id: str) -> tuple[Chat | None, Member | None, Profile | None]:
        """The chat, my active member row and my profile in one store round trip (every access
        check; a send's only read)."""

    async def get(self, chat_id: str, user_id: str) -> Member | None:
        """The active member, or None."""

    async def find(self, chat_id: str, user_id: str) -> Member | None:
        """The member row, active or not (rev > 0), or None when there never was one."""

    async def save(self, member: Member, expected_rev: int, events: Sequence[ChatEvent]) -> bool:
        """Writes the member's grants with `events` (rev + 1), if its rev is still `expected_rev`
        (0: the row must not exist yet)."""

    async def of_user(self, user_id: str, school_id: str = "") -> list[Member]: ...
    async def user_ids(self, chat_id: str) -> list[str]:
        """The active members' user ids (groups are capped at MAX_GROUP_MEMBERS)."""

    async def count(self, chat_id: str) -> int: ...
    async def set_muted(
        self, chat_id: str, user_id: str, until: datetime | None, events: Sequence[ChatEvent] = ()
    ) -> None:
        """Sets the mute with `events` (MemberMuted) in the same write."""

    async def set_last_sent(self, chat_id: str, user_id: str, at: datetime) -> None: ...
    async def mark_read(self, chat_id: str, user_id: str, seq: int, events: Sequence[ChatEvent]) -> int | None:
        """Moves the read position forward to `seq` with `events`; None when it was already there
        or beyond (nothing written)."""

    async def last_read(self, chat_id: str, user_id: str) -> int: ...
    async def count_read(self, chat_id: str, seq: int, exclude_user: str) -> tuple[int, int]:
        """(members who read up to seq, members) without `exclude_user`."""


class MessageRepository(Protocol):
    """Messages and each chat's sequence (update_seq numbers, burned numbers)."""

    async def next_seq(self, chat_id: str) -> int: ...
    async def burn_seq(self, chat_id: str, seq: int) -> None:
        """Records an allocated update_seq that will never carry an update (live ordering skips it)."""

    async def last_seq(self, chat_id: str) -> int: ...
    async def burned_in_range(self, chat_id: str, low: int, high: int) -> list[int]: ...
    async def add(self, message: Message, events: Sequence[ChatEvent]) -> None:
        """Raises DuplicateMessage when the message id is taken."""

    async def get(self, message_id: str) -> Message | None: ...
    async def get_by_seq(self, chat_id: str, seq: int) -> Message | None: ...
    async def save(self, message: Message, expected_update_seq: int, events: Sequence[ChatEvent]) -> bool: ...
    async def before(self, chat_id: str, before_seq: int, limit: int) -> list[Message]: ...
    async def after(self, chat_id: str, after_update_seq: int, limit: int) -> list[Message]: ...
    async def in_update_range(self, chat_id: str, low: int, high: int) -> list[Message]: ...
    async def due_held(self, now: datetime, limit: int) -> list[Message]: ...
    async def held_in_school(self, school_id: str, limit: int) -> list[Message]:
        """Messages quiet hours still hold (whatever their release time), oldest first."""

    async def count_unread(self, chat_id: str, user_id: str, after_seq: int, cap: int) -> int:
        """Messages of others after `after_seq`, not deleted and not held from `user_id` (quiet hours)."""


class ReportRepository(Protocol):
    async def add(self, report: Report, events: Sequence[ChatEvent] = ()) -> None:
        """Idempotent by report id; `events` (MessageReported) are written only with the first add."""

    async def get(self, report_id: str) -> Report | None: ...
    async def of_school(
        self, school_id: str, *, include_closed: bool, limit: int, classes: Sequence[str] | None = None
    ) -> list[Report]:
        """Newest first. `classes`: only reports from those classes' class and parents' chats."""

    async def of_reporter(self, reporter: str, limit: int) -> list[Report]:
        """Newest first."""

    async def decide(self, report: Report, expected_decisions: int, events: Sequence[ChatEvent]) -> bool:
        """Writes the report's state and decisions with `events`, if it still has
        `expected_decisions` decisions (compare-and-set)."""


class UploadSink(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...
    async def abort(self) -> None: ...
    async def suspend(self) -> None:
        """A resumable upload broke off: let writes in flight land; what is stored stays."""


class FileRepository(Protocol):
    """Personal files: metadata, quota and contents."""

    async def find(self, file_id: str) -> tuple[StoredFile, bool] | None:
        """(file, complete) or None."""

    async def used_bytes(self, owner: str) -> int: ...
    async def reserve(self, file: StoredFile, resumable: bool = False) -> bool:
        """Records an upload in progress (counts against the quota); False if the id exists."""

    def sink(self, file: StoredFile, start: int = 0) -> UploadSink:
        """Writes the file's data from `start` (what `received_bytes` reported)."""

    async def resumable_upload(self, file_id: str) -> StoredFile | None:
        """The unfinished resumable upload with this id, None if there is none."""

    async def received_bytes(self, file_id: str) -> int:
        """How much of an unfinished upload is stored (whole blocks only): where a resume starts."""

    async def complete(self, file_id: str, sha256_hex: str) -> None: ...
    async def discard(self, file_id: str) -> None: ...
    def read(self, file_id: str, offset: int, chunk: int) -> AsyncIterator[bytes]: ...
    async def list_owned(self, owner: str, skip: int, limit: int) -> list[StoredFile]: ...
    async def stale_uploads(self, before: datetime, resumable_before: datetime) -> list[str]:
        """Unfinished uploads started before `before` (plain) or `resumable_before` (resumable)."""

    async def attach(self, file_ids: Sequence[str], chat_id: str, seq: int = 0) -> None:
        """Records that the files were shared in the chat (its members may download them), with
        message `seq` (what deleting a file reaches)."""

    async def mark_deleted(self, file_id: str, owner: str, at: datetime) -> StoredFile | None:
        """Marks the owner's complete file deleted (from now on find, lists and used_bytes skip it)
        and returns it; a file deleted before comes back again (a repeat finishes what is left);
        None when there is no such file of this owner."""

    async def purge(self, file_id: str) -> None:
        """Removes a deleted file's contents; its small record stays as a tombstone."""

    async def unfinished_deletions(self, before: datetime) -> list[StoredFile]: ...
    async def detach(self, file_id: str, chat_id: str) -> None:
        """The chat's members may no longer download the file."""

    async def list_in_chat(self, chat_id: str, kind: FileKind, skip: int, limit: int) -> list[StoredFile]:
        """Live files shared in the chat, newest first."""


class SchoolFacts(Protocol):
    """What chat knows of other services' aggregates (projections of school/identity events)."""

    async def memberships_of(self, school_id: str, user_id: str) -> list[Membership]: ...
    async def school(self, school_id: str) -> SchoolInfo | None: ...
    async def profile(self, user_id: str) -> Profile | None: ...


class ProjectionStore(Protocol):
    """Writes of the projections, applied by aggregate version."""

    async def put_school(self, school: SchoolInfo, version: int) -> bool: ...
    async def put_membership(self, membership: Membership, version: int) -> Membership | Literal[False] | None:
        """False when not applied (older/duplicate); otherwise the previous state (None if new)."""

    async def put_profile(self, profile: Profile, version: int) -> bool: ...


class Policies(Protocol):
    """Each school's communication policy as this replica knows it, in memory (the kit's PolicyBook)."""

    def get(self, school_id: str) -> SchoolPolicy: ...
    def apply(self, school_id: str, policy: SchoolPolicy, version: int) -> bool: ...


class Notifier(Protocol):
    """Wakes the outbox relay after a write that carries events."""

    def __call__(self) -> None: ...


class FileQuotaRepository(Protocol):
    """Each school's per-person storage quota, set by its admins."""

    async def get(self, school_id: str) -> int | None: ...
    async def put(self, school_id: str, quota_bytes: int, by: str, at: datetime) -> None:
        """0 removes the school's quota (the operator's default applies)."""

    async def of_schools(self, school_ids: Sequence[str]) -> list[int]:
        """The quotas the given schools set (schools without one are left out)."""


class Preferences(Protocol):
    """Each user's own chat settings: whom they block from DMing them, urgent notifications."""

    async def block(self, user_id: str, blocked: str) -> None: ...
    async def unblock(self, user_id: str, blocked: str) -> None: ...
    async def get(self, user_id: str) -> tuple[list[str], bool]:
        """(blocked user ids, urgent notifications on), read from the store (every replica agrees at
        once): a DM send reads the recipient's once for both."""

    async def set_urgent_notifications(self, user_id: str, enabled: bool) -> None: ...


class UrgentAllowance(Protocol):
    """Per sender, school and school-local day: the urgent messages that crossed quiet hours."""

    async def use(self, sender: str, school_id: str, day: str, message_id: str, per_day: int) -> bool:
        """Counts `message_id` (once: a retry counts nothing) if fewer than `per_day` were counted
        that day; False when the allowance is spent."""


class ExportRepository(Protocol):
    """Data exports chat assembles (app/exports.py): one document per export id."""

    async def get(self, export_id: str) -> DataExport | None: ...
    async def record_request(
        self, export_id: str, requested_by: str, subject_user_id: str, requested_at: datetime, notify_subject: bool
    ) -> None:
        """Idempotent: a replayed request changes nothing."""

    async def add_part(self, export_id: str, name: str, part: Part) -> None:
        """Stores a part (before or after the request arrived); nothing once the export is delivered."""

    async def claim(self, export_id: str, now: datetime, until: datetime) -> bool:
        """Takes the assembly of an undelivered export unless another claim is still running."""

    async def release(self, export_id: str) -> None: ...
    async def delivered(self, export: DataExport, file_id: str, size_bytes: int, at: datetime) -> bool:
        """Marks it delivered, drops the parts and publishes DataExportDelivered, once; False when
        it was delivered before."""

    async def requested_by(self, user_id: str, limit: int) -> list[DataExport]:
        """Newest first."""

    async def about(self, subject_user_id: str, limit: int) -> list[DataExport]:
        """Exports of the person's data by someone else that the person is to be told of, newest first."""

    async def undelivered(self, requested_before: datetime, limit: int) -> list[str]:
        """Ids of exports requested before `requested_before` and not delivered yet."""


class AuthoredMessages(Protocol):
    async def written_by(self, user_id: str, limit: int) -> list[Message]:
        """Messages `user_id` sent (any chat, any school), newest first."""


class ErasureContent(Protocol):
    """What an erasure looks for: one person's content across chat's collections (issue 17)."""

    async def messages_by(self, user_id: str, limit: int) -> list[Message]:
        """Messages `user_id` wrote that are not erased yet (system messages excluded)."""

    async def notes_naming(self, user_id: str, limit: int) -> list[Message]:
        """System messages whose note still carries `user_id`'s name."""

    async def erase_reports(self, user_id: str) -> int:
        """Blanks the message snapshots of `user_id`'s reported messages and the reasons `user_id`
        wrote in reports; returns how many reports changed."""

    async def erase_file_names(self, owner: str) -> int:
        """Blanks the names left on `owner`'s deleted files' records (the tombstones) and discards
        their unfinished uploads; returns how many records changed."""

    async def notes_of_material(self, material_id: str, limit: int) -> list[Message]:
        """«Material published» system messages of this material that still carry its title."""

    async def reacted_by(self, user_id: str, limit: int) -> list[Message]:
        """Messages on which `user_id` still stands among the people of a reaction."""


class ErasureWorks(Protocol):
    """What an erasure looks for beyond messages: the announcements, polls and materials a person
    posted, and where their id stands in others' (confirmations, family rows, votes). Issue 17."""

    async def announcements_by(self, user_id: str, limit: int) -> list[Announcement]:
        """Announcements `user_id` posted whose text is not erased yet (without their families)."""

    async def save_erased_announcement(self, announcement: Announcement) -> bool:
        """Stores the placeholder's text; False when there was no such announcement."""

    async def reminders_of(self, announcement_id: str) -> list[Reminder]:
        """Every reminder sent for it (each one a direct message to each person it reached)."""

    async def remove_announcement(self, announcement_id: str) -> bool:
        """Removes it with its family rows and reminders; False when it was gone already."""

    async def anonymise_families(self, user_id: str, token: str) -> tuple[int, int]:
        """In every announcement's family rows: `token` in place of `user_id` as the child and as
        the one who confirmed, and `user_id` out of the guardians; returns how many rows named them
        as the child or a guardian, and how many confirmations were theirs."""

    async def polls_by(self, user_id: str, limit: int) -> list[Poll]:
        """Polls `user_id` created whose question is not erased yet."""

    async def save_erased_poll(self, poll: Poll) -> bool:
        """Stores the placeholder's question, options and closing time; False when there was no such poll."""

    async def remove_poll(self, poll_id: str) -> bool:
        """Removes it with its votes; False when it was gone already."""

    async def anonymise_votes(self, user_id: str) -> int:
        """Drops `user_id` as the named voter of their votes (the votes still count); returns how many."""

    async def materials_by(self, user_id: str, limit: int) -> list[Material]:
        """Materials `user_id` published."""

    async def remove_material(self, material_id: str) -> bool:
        """False when it was gone already."""
