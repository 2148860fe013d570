"""chat's side of the parta.chat.v1 contract: domain ↔ snapshots, event payloads and live updates.

Shared by both edges that speak the contract: api/ (responses, the Subscribe stream) and adapters/
(outbox events, the Kafka live reader). It depends on the domain and app's live types only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from google.protobuf.message import Message as ProtoMessage
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as pb
from parta_common.timestamps import from_ts, ts

from chat.app.live import UpdateKind
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.messages import Message, Reaction
from chat.domain.system_notes import SystemKind, SystemNote


def chat_pb(chat: Chat) -> pb.ChatSnapshot:
    return pb.ChatSnapshot(
        chat_id=chat.chat_id,
        school_id=chat.school_id,
        kind=int(chat.kind),  # type: ignore[arg-type]
        title=chat.title,
        class_id=chat.class_id,
        posting_policy=int(chat.posting_policy),  # type: ignore[arg-type]
        slow_mode_seconds=chat.slow_mode_seconds,
        read_only=chat.read_only,
        pinned_seqs=chat.pinned_seqs,
        member_count=chat.member_count,
        update_seq=chat.update_seq,
        created_by_user_id=chat.created_by,
        subject=chat.subject,
    )


def chat_from_pb(s: pb.ChatSnapshot) -> Chat:
    return Chat(
        chat_id=s.chat_id,
        school_id=s.school_id,
        kind=ChatKind(s.kind),
        title=s.title,
        class_id=s.class_id,
        subject=s.subject,
        posting_policy=PostingPolicy(s.posting_policy or 1),
        slow_mode_seconds=s.slow_mode_seconds,
        read_only=s.read_only,
        pinned_seqs=list(s.pinned_seqs),
        member_count=s.member_count,
        update_seq=s.update_seq,
        created_by=s.created_by_user_id,
    )


def message_pb(m: Message) -> pb.MessageSnapshot:
    return pb.MessageSnapshot(
        chat_id=m.chat_id,
        message_id=m.message_id,
        seq=m.seq,
        update_seq=m.update_seq,
        sender_user_id=m.sender_user_id,
        text=m.text,
        reply_to_seq=m.reply_to_seq,
        file_ids=m.file_ids,
        sent_at=ts(m.sent_at),
        edited_at=ts(m.edited_at),
        deleted=m.deleted,
        system=m.system,
        urgent=m.urgent,
        held_until=ts(m.held_until) if m.held_for else None,
        held_for_user_ids=m.held_for,
        reactions=[pb.Reaction(emoji=r.emoji, user_ids=r.user_ids) for r in m.reactions],
        client_message_id=m.client_message_id,
        school_id=m.school_id,
        system_note=_note_pb(m.system_note) if m.system_note is not None else None,
        removed_file_ids=m.removed_file_ids,
        urgent_reason=m.urgent_reason,
        author_erased=m.author_erased,
    )


def _note_pb(n: SystemNote) -> pb.SystemNote:
    return pb.SystemNote(
        kind=int(n.kind),  # type: ignore[arg-type]
        subject_user_id=n.subject_user_id,
        subject_name=n.subject_name,
        title=n.title,
        count=n.count,
        starts_at=ts(n.starts_at),
        local_time=n.local_time,
        material_id=n.material_id,
    )


def _note_from_pb(n: pb.SystemNote) -> SystemNote | None:
    if n.kind == pb.SYSTEM_KIND_UNSPECIFIED:
        return None
    starts = from_ts(n.starts_at) if n.HasField("starts_at") else None
    return SystemNote(
        SystemKind(n.kind),
        n.subject_user_id,
        n.subject_name,
        n.title,
        n.count,
        starts,
        n.local_time,
        n.material_id,
    )


def message_from_pb(s: pb.MessageSnapshot) -> Message:
    return Message(
        chat_id=s.chat_id,
        message_id=s.message_id,
        seq=s.seq,
        update_seq=s.update_seq,
        school_id=s.school_id,
        sender_user_id=s.sender_user_id,
        text=s.text,
        sent_at=from_ts(s.sent_at) or datetime.now(UTC),
        client_message_id=s.client_message_id,
        reply_to_seq=s.reply_to_seq,
        file_ids=list(s.file_ids),
        edited_at=from_ts(s.edited_at),
        deleted=s.deleted,
        system=s.system,
        urgent=s.urgent,
        held_until=from_ts(s.held_until),
        held_for=list(s.held_for_user_ids),
        reactions=[Reaction(r.emoji, list(r.user_ids)) for r in s.reactions],
        system_note=_note_from_pb(s.system_note) if s.HasField("system_note") else None,
        removed_file_ids=list(s.removed_file_ids),
        urgent_reason=s.urgent_reason,
        author_erased=s.author_erased,
    )


def event_payload(event: ev.ChatEvent) -> tuple[str, str, int, ProtoMessage]:
    """(aggregate type, aggregate id, version, protobuf payload) of a domain event."""
    match event:
        case ev.ChatCreated(chat):
            return "chat", chat.chat_id, chat.update_seq, pb.ChatCreated(chat=chat_pb(chat))
        case ev.ChatUpdated(chat, by):
            return "chat", chat.chat_id, chat.update_seq, pb.ChatUpdated(chat=chat_pb(chat), changed_by_user_id=by)
        case ev.MessagePosted(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessagePosted(message=message_pb(m))
        case ev.MessageEdited(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessageEdited(message=message_pb(m))
        case ev.MessageDeleted(m, by, seal):
            return (
                "chat.message",
                m.message_id,
                m.update_seq,
                pb.MessageDeleted(
                    message=message_pb(m),
                    deleted_by_user_id=by,
                    content_seal=seal.value if seal else "",
                    seal_key_id=seal.key_id if seal else "",
                ),
            )
        case ev.MessageChanged(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessageChanged(message=message_pb(m))
        case ev.ReportDecided(r):
            d = r.decisions[-1]
            return (
                "chat.report",
                r.report_id,
                len(r.decisions),
                pb.ReportDecided(
                    report_id=r.report_id,
                    school_id=r.school_id,
                    chat_id=r.chat_id,
                    seq=r.seq,
                    message_id=r.message.message_id if r.message is not None else "",
                    author_user_id=r.author,
                    reporter_user_id=r.reporter,
                    moderator_user_id=d.moderator,
                    actions=[a.label for a in d.actions],
                    decided_at=ts(d.at),
                ),
            )
        case ev.ReadUpdated(chat_id, user_id, seq):
            return (
                "chat.member",
                f"{chat_id}|{user_id}",
                seq,
                pb.ReadUpdated(chat_id=chat_id, user_id=user_id, last_read_seq=seq),
            )
        case ev.MemberAdded(chat_id, user_id):
            return "chat.member", f"{chat_id}|{user_id}", 0, pb.MemberAdded(chat_id=chat_id, user_id=user_id)
        case ev.MemberRemoved(chat_id, user_id, by, school_id):
            removed = pb.MemberRemoved(chat_id=chat_id, user_id=user_id, removed_by_user_id=by, school_id=school_id)
            return "chat.member", f"{chat_id}|{user_id}", 0, removed
        case ev.MemberMuted(chat_id, school_id, user_id, by, until, at):
            muted = pb.MemberMuted(
                chat_id=chat_id,
                school_id=school_id,
                user_id=user_id,
                muted_by_user_id=by,
                muted_until=ts(until),
                muted_at=ts(at),
            )
            return "chat.member", f"{chat_id}|{user_id}", 0, muted
        case ev.MessageReported(r):
            reported = pb.MessageReported(
                report_id=r.report_id,
                school_id=r.school_id,
                chat_id=r.chat_id,
                seq=r.seq,
                message_id=r.message.message_id if r.message is not None else "",
                author_user_id=r.author,
                reporter_user_id=r.reporter,
                reported_at=ts(r.at),
            )
            return "chat.report", r.report_id, 0, reported
        case ev.AnnouncementConfirmed():
            c = event.confirmation
            return (
                "chat.announcement",
                f"{c.announcement_id}|{c.child_user_id}",
                event.confirmed_count,
                pb.AnnouncementConfirmed(progress=announcement_progress_pb(event)),
            )
        case ev.PollVoted():
            # The version orders nothing (a live signal); the vote's time in milliseconds.
            return (
                "chat.poll",
                event.poll_id,
                int(event.at.timestamp() * 1000),
                pb.PollVoted(progress=poll_progress_pb(event)),
            )
    raise TypeError(f"unknown event {event!r}")


def poll_progress_pb(event: ev.PollVoted) -> pb.PollProgress:
    return pb.PollProgress(
        chat_id=event.chat_id,
        poll_id=event.poll_id,
        seq=event.seq,
        author_user_id=event.author_user_id,
        voted_at=ts(event.at),
    )


def announcement_progress_pb(event: ev.AnnouncementConfirmed) -> pb.AnnouncementProgress:
    c = event.confirmation
    return pb.AnnouncementProgress(
        chat_id=event.chat_id,
        announcement_id=c.announcement_id,
        seq=event.seq,
        author_user_id=event.author_user_id,
        child_user_id=c.child_user_id,
        confirmed_by_user_id=c.confirmed_by,
        confirmed_count=event.confirmed_count,
        family_count=event.family_count,
        confirmed_at=ts(c.at),
    )


# ---- live updates ---------------------------------------------------------------------------------


class Update:
    """One live update as every subscriber of this replica receives it: made once per event, and
    the stream's serializer encodes it once, on first use, for all of them (a 1,000-member channel
    costs one SerializeToString, not 1,000). Carries what the app's hub orders and routes by."""

    __slots__ = ("_data", "chat_id", "event", "held_for", "held_until", "kind", "read_seq", "update_seq", "user_id")

    def __init__(self, event: chat_pb2.ChatEvent):
        self.event = event
        self._data: bytes | None = None
        self.chat_id: str = event.chat_id
        self.update_seq: int = event.update_seq
        self.user_id = ""
        self.read_seq = 0
        self.held_until: datetime | None = None
        self.held_for: tuple[str, ...] = ()
        which = event.WhichOneof("event")
        if which == "message":
            self.kind = UpdateKind.MESSAGE
            if event.message.held_for_user_ids:
                self.held_for = tuple(event.message.held_for_user_ids)
                self.held_until = from_ts(event.message.held_until)
        elif which == "chat":
            self.kind = UpdateKind.CHAT
        elif which == "read":
            self.kind, self.user_id, self.read_seq = UpdateKind.READ, event.read.user_id, event.read.last_read_seq
        elif which == "member_added":
            self.kind, self.user_id = UpdateKind.MEMBER_ADDED, event.member_added.user_id
        elif which == "member_removed":
            self.kind, self.user_id = UpdateKind.MEMBER_REMOVED, event.member_removed.user_id
        elif which == "announcement_progress":
            self.kind, self.user_id = UpdateKind.ANNOUNCEMENT, event.announcement_progress.author_user_id
        elif which == "poll_progress":
            self.kind, self.user_id = UpdateKind.POLL, event.poll_progress.author_user_id
        else:
            self.kind = UpdateKind.BURNED

    def data(self) -> bytes:
        if self._data is None:
            self._data = self.event.SerializeToString()
        return self._data


def encode_stream_item(item: Update | chat_pb2.ChatEvent) -> bytes:
    """Subscribe's response serializer: live updates are shared, history events are the stream's own."""
    return item.data() if isinstance(item, Update) else item.SerializeToString()


class PbLiveEncoder:
    """app.live.LiveEncoder: stored state → live updates (the hub's gap fill)."""

    def message(self, message: Message) -> Update:
        return Update(
            chat_pb2.ChatEvent(chat_id=message.chat_id, update_seq=message.update_seq, message=message_pb(message))
        )

    def chat(self, chat: Chat) -> Update:
        return Update(chat_pb2.ChatEvent(chat_id=chat.chat_id, update_seq=chat.update_seq, chat=chat_pb(chat)))

    def burned(self, chat_id: str, seq: int) -> Update:
        return Update(chat_pb2.ChatEvent(chat_id=chat_id, update_seq=seq))


def _posted(payload: bytes) -> chat_pb2.ChatEvent:
    return _message(pb.MessagePosted.FromString(payload).message)


def _edited(payload: bytes) -> chat_pb2.ChatEvent:
    return _message(pb.MessageEdited.FromString(payload).message)


def _deleted(payload: bytes) -> chat_pb2.ChatEvent:
    return _message(pb.MessageDeleted.FromString(payload).message)


def _changed(payload: bytes) -> chat_pb2.ChatEvent:
    return _message(pb.MessageChanged.FromString(payload).message)


def _message(msg: pb.MessageSnapshot) -> chat_pb2.ChatEvent:
    return chat_pb2.ChatEvent(chat_id=msg.chat_id, update_seq=msg.update_seq, message=msg)


def _chat_created(payload: bytes) -> chat_pb2.ChatEvent:
    return _chat(pb.ChatCreated.FromString(payload).chat)


def _chat_updated(payload: bytes) -> chat_pb2.ChatEvent:
    return _chat(pb.ChatUpdated.FromString(payload).chat)


def _chat(chat: pb.ChatSnapshot) -> chat_pb2.ChatEvent:
    return chat_pb2.ChatEvent(chat_id=chat.chat_id, update_seq=chat.update_seq, chat=chat)


def _read(payload: bytes) -> chat_pb2.ChatEvent:
    read = pb.ReadUpdated.FromString(payload)
    return chat_pb2.ChatEvent(chat_id=read.chat_id, read=read)


def _added(payload: bytes) -> chat_pb2.ChatEvent:
    added = pb.MemberAdded.FromString(payload)
    return chat_pb2.ChatEvent(chat_id=added.chat_id, member_added=added)


def _removed(payload: bytes) -> chat_pb2.ChatEvent:
    removed = pb.MemberRemoved.FromString(payload)
    # Who removed them is for the audit trail, not for the chat's live streams.
    removed.ClearField("removed_by_user_id")
    return chat_pb2.ChatEvent(chat_id=removed.chat_id, member_removed=removed)


def _announcement(payload: bytes) -> chat_pb2.ChatEvent:
    progress = pb.AnnouncementConfirmed.FromString(payload).progress
    return chat_pb2.ChatEvent(chat_id=progress.chat_id, announcement_progress=progress)


def _poll(payload: bytes) -> chat_pb2.ChatEvent:
    progress = pb.PollVoted.FromString(payload).progress
    return chat_pb2.ChatEvent(chat_id=progress.chat_id, poll_progress=progress)


# The chat topic's event types (keyed by their message class) → the update subscribers see.
_LIVE: dict[str, Callable[[bytes], chat_pb2.ChatEvent]] = {
    cls.DESCRIPTOR.full_name: decode
    for cls, decode in (
        (pb.MessagePosted, _posted),
        (pb.MessageEdited, _edited),
        (pb.MessageDeleted, _deleted),
        (pb.MessageChanged, _changed),
        (pb.ChatCreated, _chat_created),
        (pb.ChatUpdated, _chat_updated),
        (pb.ReadUpdated, _read),
        (pb.MemberAdded, _added),
        (pb.MemberRemoved, _removed),
        (pb.AnnouncementConfirmed, _announcement),
        (pb.PollVoted, _poll),
    )
}


def live_update(event_type: str, payload: bytes) -> Update | None:
    """A chat topic record → the update subscribers see (None for types this version ignores)."""
    decode = _LIVE.get(event_type)
    return Update(decode(payload)) if decode is not None else None
