"""chat's MongoDB repositories, one module per aggregate; collections and indexes here.

Every state change and its events are one update of one document (no multi-document
transactions): a message carries its MessagePosted, a member document its MemberAdded, a chat
document its ChatUpdated.
"""

from __future__ import annotations

from parta_common.events.outbox import outbox_index
from pymongo import ASCENDING, DESCENDING, IndexModel

CHATS = "chats"
MEMBERS = "members"
MESSAGES = "messages"
COUNTERS = "counters"
MEMBERSHIPS = "memberships"
SCHOOLS = "schools"
PROFILES = "profiles"
FILES = "files"
FILE_QUOTAS = "file_quotas"
REPORTS = "reports"
BURNED = "burned_seqs"
PREFERENCES = "preferences"
URGENT_USES = "urgent_uses"
# A report carries its ReportDecided until relayed.
ANNOUNCEMENTS = "announcements"
ANNOUNCEMENT_FAMILIES = "announcement_families"
ANNOUNCEMENT_REMINDERS = "announcement_reminders"
POLLS = "polls"
POLL_VOTES = "poll_votes"
MATERIALS = "materials"
# Retention: each school's rule, projected from school's snapshots (the clocks live on the chats).
RETENTION_RULES = "retention_rules"
# A report carries its ReportDecided, a family row its AnnouncementConfirmed, a vote its PollVoted,
# until relayed.
OUTBOX_COLLECTIONS = (CHATS, MEMBERS, MESSAGES, REPORTS, ANNOUNCEMENT_FAMILIES, POLL_VOTES)


def index_specs() -> dict[str, list[IndexModel]]:
    return {
        CHATS: [
            outbox_index(),
            IndexModel([("school_id", ASCENDING), ("kind", ASCENDING)], name="by_school_kind"),
            # Retention's due chats per school and stage (only chats with a clock carry ret_stage).
            IndexModel([("ret_stage", ASCENDING), ("school_id", ASCENDING)], name="retention", sparse=True),
        ],
        MEMBERS: [
            IndexModel([("user_id", ASCENDING), ("active", ASCENDING)], name="by_user"),
            IndexModel([("chat_id", ASCENDING), ("active", ASCENDING), ("last_read_seq", ASCENDING)], name="by_chat"),
            outbox_index(),
        ],
        MESSAGES: [
            IndexModel([("chat_id", ASCENDING), ("seq", ASCENDING)], name="by_seq", unique=True),
            IndexModel([("chat_id", ASCENDING), ("useq", ASCENDING)], name="by_update_seq"),
            IndexModel([("held", ASCENDING), ("held_until", ASCENDING)], name="held", sparse=True),
            outbox_index(),
            # Erasure (issue 17): a person's messages, and the system notes that name them.
            IndexModel([("sender", ASCENDING)], name="by_sender"),
            IndexModel([("note.subject_user_id", ASCENDING)], name="by_note_subject", sparse=True),
            # ...and the «material published» notes of a material they published.
            IndexModel([("note.material_id", ASCENDING)], name="by_note_material", sparse=True),
            # ...and the messages they reacted to (each person of each reaction is a key).
            IndexModel([("reactions.user_ids", ASCENDING)], name="by_reactor", sparse=True),
        ],
        MEMBERSHIPS: [IndexModel([("school_id", ASCENDING), ("user_id", ASCENDING)], name="by_person")],
        # PolicySync reads the schools whose projection changed since its last pass.
        SCHOOLS: [IndexModel([("policy_at", ASCENDING)], name="by_policy_at")],
        BURNED: [IndexModel([("chat_id", ASCENDING), ("useq", ASCENDING)], name="by_chat")],
        FILES: [
            IndexModel([("owner", ASCENDING), ("uploaded_at", DESCENDING)], name="by_owner"),
            # A chat's file list (ListChatFiles): `chats` is an array, one key per chat.
            IndexModel([("chats", ASCENDING), ("uploaded_at", DESCENDING)], name="by_chat"),
            # Retention's exact counts of what a purge deleted or detached.
            IndexModel([("ret_deleted_by", ASCENDING)], name="retention_deleted", sparse=True),
            IndexModel([("ret_detached_from", ASCENDING)], name="retention_detached", sparse=True),
        ],
        REPORTS: [
            outbox_index(),
            IndexModel([("school_id", ASCENDING), ("at", DESCENDING)], name="by_school"),
            IndexModel([("reporter", ASCENDING), ("at", DESCENDING)], name="by_reporter"),
        ],
        # GridFS's own indexes (bucket "blobs"), created up front since chunks are written directly.
        "blobs.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], name="files_id_1_n_1", unique=True)],
        "blobs.files": [
            IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1")
        ],
        # The by_author, by_child, by_guardian, by_confirmer, by_voter and by_publisher indexes are erasure's
        # (issue 17): a person's announcements, polls and materials, and their id in others'.
        ANNOUNCEMENTS: [
            IndexModel([("chat_id", ASCENDING), ("seq", ASCENDING)], name="by_chat_seq", unique=True),
            IndexModel([("author", ASCENDING)], name="by_author"),
        ],
        ANNOUNCEMENT_FAMILIES: [
            IndexModel([("ann", ASCENDING)], name="by_announcement"),
            outbox_index(),
            IndexModel([("child", ASCENDING)], name="by_child"),
            IndexModel([("guardians", ASCENDING)], name="by_guardian"),
            IndexModel([("by", ASCENDING)], name="by_confirmer"),
        ],
        ANNOUNCEMENT_REMINDERS: [
            IndexModel([("ann", ASCENDING)], name="by_announcement"),
            IndexModel([("child", ASCENDING)], name="by_child"),
        ],
        POLLS: [
            IndexModel([("chat_id", ASCENDING), ("seq", ASCENDING)], name="by_chat_seq", unique=True),
            IndexModel([("author", ASCENDING)], name="by_author"),
        ],
        POLL_VOTES: [
            IndexModel([("poll", ASCENDING)], name="by_poll"),
            outbox_index(),
            IndexModel([("voter", ASCENDING)], name="by_voter", sparse=True),
        ],
        MATERIALS: [
            IndexModel([("school_id", ASCENDING), ("class_id", ASCENDING), ("at", DESCENDING)], name="by_audience"),
            IndexModel([("file_id", ASCENDING)], name="by_file", sparse=True),
            IndexModel([("by", ASCENDING)], name="by_publisher"),
        ],
    }
