"""Domain ↔ parta.chat.v1 snapshots, shared by the API responses and the outbox events."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from parta.chat.v1 import events_pb2 as pb

from chat.domain import events as ev
from chat.domain.model import Chat, ChatKind, Message, PostingPolicy, Reaction


def ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def from_ts(stamp: timestamp_pb2.Timestamp) -> datetime | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


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
        created_by_user_id="" if chat.kind is ChatKind.DIRECT else chat.created_by,
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
    )


def event_payload(event: ev.ChatEvent) -> tuple[str, str, int, object]:
    """(aggregate type, aggregate id, version, protobuf payload) of a domain event."""
    match event:
        case ev.ChatCreated(chat):
            return "chat", chat.chat_id, chat.update_seq, pb.ChatCreated(chat=chat_pb(chat))
        case ev.ChatUpdated(chat):
            return "chat", chat.chat_id, chat.update_seq, pb.ChatUpdated(chat=chat_pb(chat))
        case ev.MessagePosted(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessagePosted(message=message_pb(m))
        case ev.MessageEdited(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessageEdited(message=message_pb(m))
        case ev.MessageDeleted(m, by):
            return (
                "chat.message",
                m.message_id,
                m.update_seq,
                pb.MessageDeleted(message=message_pb(m), deleted_by_user_id=by),
            )
        case ev.MessageChanged(m):
            return "chat.message", m.message_id, m.update_seq, pb.MessageChanged(message=message_pb(m))
        case ev.ReadUpdated(chat_id, user_id, seq):
            return (
                "chat.member",
                f"{chat_id}|{user_id}",
                seq,
                pb.ReadUpdated(chat_id=chat_id, user_id=user_id, last_read_seq=seq),
            )
        case ev.MemberAdded(chat_id, user_id):
            return "chat.member", f"{chat_id}|{user_id}", 0, pb.MemberAdded(chat_id=chat_id, user_id=user_id)
        case ev.MemberRemoved(chat_id, user_id):
            return "chat.member", f"{chat_id}|{user_id}", 0, pb.MemberRemoved(chat_id=chat_id, user_id=user_id)
    raise TypeError(f"unknown event {event!r}")
