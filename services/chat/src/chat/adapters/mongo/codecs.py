"""Domain objects ↔ chat's MongoDB documents (no I/O here)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from parta_common.safety import SchoolPolicy

from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.files import StoredFile
from chat.domain.members import Grant, Member
from chat.domain.messages import Message, Reaction
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolInfo, SchoolRole
from chat.domain.system_notes import SystemKind, SystemNote

Doc = dict[str, Any]
# What a read leaves out: the pending events ride on the documents until the relay sends them.
NO_OUTBOX: Doc = {"_outbox": 0}


def member_id(chat_id: str, user_id: str) -> str:
    return f"{chat_id}|{user_id}"


def chat_settings(chat: Chat) -> Doc:
    """What ChatRepository.save writes (not member_count: a counter kept apart)."""
    return {
        "title": chat.title,
        "class_id": chat.class_id,
        "subject": chat.subject,
        "posting_policy": int(chat.posting_policy),
        "slow_mode_seconds": chat.slow_mode_seconds,
        "read_only": chat.read_only,
        "pinned_seqs": list(chat.pinned_seqs),
        "useq": chat.update_seq,
        "version": chat.version,
        "contact_conflicts": list(chat.contact_conflicts),
    }


def chat_doc(chat: Chat) -> Doc:
    doc: Doc = {
        "_id": chat.chat_id,
        "school_id": chat.school_id,
        "kind": int(chat.kind),
        "member_count": chat.member_count,
        "created_by": chat.created_by,
        **chat_settings(chat),
    }
    if chat.members:
        doc["members"] = list(chat.members)
    return doc


def decode_chat(d: Doc) -> Chat:
    kind = ChatKind(d["kind"])
    created_by = d.get("created_by", "")
    members = tuple(d.get("members", ()))
    if kind is ChatKind.DIRECT and not members and "," in created_by:
        # Direct chats written before `members` existed kept the pair in created_by ("low,high").
        members, created_by = tuple(created_by.split(",")), ""
    return Chat(
        chat_id=d["_id"],
        school_id=d["school_id"],
        kind=kind,
        title=d.get("title", ""),
        class_id=d.get("class_id", ""),
        subject=d.get("subject", ""),
        posting_policy=PostingPolicy(d.get("posting_policy", 1)),
        slow_mode_seconds=d.get("slow_mode_seconds", 0),
        read_only=d.get("read_only", False),
        pinned_seqs=list(d.get("pinned_seqs", [])),
        member_count=d.get("member_count", 0),
        update_seq=d.get("useq", 0),
        created_by=created_by,
        version=d.get("version", 0),
        contact_conflicts=tuple(d.get("contact_conflicts", ())),
        members=members,
    )


def grants_doc(member: Member) -> Doc:
    """What MemberRepository.save writes: the keyed grants and what is derived from them."""
    return {
        "grants": [{"k": k, "g": str(g)} for k, g in member.keyed.items()],
        "active": member.active,
        "moderator": member.is_moderator,
        "chat_id": member.chat_id,
        "user_id": member.user_id,
        "school_id": member.school_id,
    }


def decode_member(d: Doc) -> Member:
    keyed = {g["k"]: Grant(g["g"]) for g in d.get("grants", [])}
    return Member(
        chat_id=d["chat_id"],
        user_id=d["user_id"],
        grants=set(keyed.values()),
        last_read_seq=d.get("last_read_seq", 0),
        muted_until=d.get("muted_until"),
        last_sent_at=d.get("last_sent_at"),
        keyed=keyed,
        rev=d.get("rev", 0),
        school_id=d.get("school_id", ""),
    )


def message_doc(m: Message) -> Doc:
    doc: Doc = {
        "_id": m.message_id,
        "chat_id": m.chat_id,
        "seq": m.seq,
        "useq": m.update_seq,
        "school_id": m.school_id,
        "sender": m.sender_user_id,
        "text": m.text,
        "sent_at": m.sent_at,
        "cmid": m.client_message_id,
        "reply_to": m.reply_to_seq,
        "files": m.file_ids,
        "edited_at": m.edited_at,
        "deleted": m.deleted,
        "system": m.system,
        "urgent": m.urgent,
        "held_until": m.held_until,
        "held_for": m.held_for,
        "reactions": [asdict(r) for r in m.reactions],
    }
    if m.system_note is not None:
        doc["note"] = asdict(m.system_note)
    if m.removed_file_ids:
        doc["files_removed"] = m.removed_file_ids
    if m.urgent_reason:
        doc["urgent_reason"] = m.urgent_reason
    if m.author_erased:
        doc["erased"] = True
    if m.held_for:
        doc["held"] = True  # sparse index of messages the release worker still has to deliver
    return doc


def decode_message(d: Doc) -> Message:
    return Message(
        chat_id=d["chat_id"],
        message_id=d["_id"],
        seq=d["seq"],
        update_seq=d["useq"],
        school_id=d.get("school_id", ""),
        sender_user_id=d.get("sender", ""),
        text=d.get("text", ""),
        sent_at=d["sent_at"],
        client_message_id=d.get("cmid", ""),
        reply_to_seq=d.get("reply_to", 0),
        file_ids=list(d.get("files", [])),
        edited_at=d.get("edited_at"),
        deleted=d.get("deleted", False),
        system=d.get("system", False),
        urgent=d.get("urgent", False),
        held_until=d.get("held_until"),
        held_for=list(d.get("held_for", [])),
        reactions=[Reaction(r["emoji"], list(r["user_ids"])) for r in d.get("reactions", [])],
        system_note=_decode_note(d["note"]) if d.get("note") else None,
        removed_file_ids=list(d.get("files_removed", [])),
        urgent_reason=d.get("urgent_reason", ""),
        author_erased=d.get("erased", False),
    )


def _decode_note(d: Doc) -> SystemNote:
    return SystemNote(
        SystemKind(d["kind"]),
        subject_user_id=d.get("subject_user_id", ""),
        subject_name=d.get("subject_name", ""),
        title=d.get("title", ""),
        count=d.get("count", 0),
        starts_at=d.get("starts_at"),
        local_time=d.get("local_time", ""),
        material_id=d.get("material_id", ""),
    )


def decode_membership(d: Doc) -> Membership:
    return Membership(
        membership_id=d["_id"],
        school_id=d["school_id"],
        user_id=d["user_id"],
        school_role=SchoolRole(d["school_role"]),
        class_id=d.get("class_id", ""),
        class_role=ClassRole(d.get("class_role", 0)),
        child_user_id=d.get("child_user_id", ""),
        active=d.get("active", True),
        # Rows projected before the field existed read as unverified: the safe side.
        verified=d.get("verified", False),
    )


def decode_profile(d: Doc) -> Profile:
    return Profile(d["_id"], d.get("name", ""), d.get("awaiting", False), d.get("deleted", False))


def decode_policy(d: Doc) -> SchoolPolicy:
    # A school projected before policies existed has the defaults.
    return SchoolPolicy.from_settings(d.get("policy") or {})


def decode_school(d: Doc) -> SchoolInfo:
    return SchoolInfo(
        d["_id"],
        d.get("name", ""),
        d.get("timezone", ""),
        d.get("start", 0),
        d.get("end", 0),
        decode_policy(d),
        d.get("locale") or "ru",  # a school projected before locales: the default
    )


def decode_file(d: Doc) -> StoredFile:
    return StoredFile(
        file_id=d["_id"],
        owner_user_id=d["owner"],
        filename=d["filename"],
        content_type=d.get("content_type", ""),
        size_bytes=d["size"],
        sha256_hex=d["sha256"],
        uploaded_at=d["uploaded_at"],
        chat_ids=tuple(d.get("chats", [])),
        refs=tuple((r["c"], int(r["s"])) for r in d.get("refs", [])),
    )
