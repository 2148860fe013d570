"""Every Kafka topic of Parta, declared once.

Producers, consumers, tests and tools name a topic through these constants (and
`ServiceSettings.topic()` for the per-deployment prefix); no other module spells a topic. A
topic carries one producer's events, keyed so one aggregate's (or one school's) events keep
their order: see docs/architecture.md, "The event layer".
"""

from __future__ import annotations

# identity: every user's events (registration, profile, consent, guardians, sessions), keyed by user.
IDENTITY_USER = "identity.user.v1"
# school: keyed by school id, so one school's events keep their order on each topic.
SCHOOL_SCHOOL = "school.school.v1"
SCHOOL_CLASS = "school.class.v1"
SCHOOL_MEMBERSHIP = "school.membership.v1"
SCHOOL_INVITE = "school.invite.v1"
# Class timetables (TimetableChanged, the full snapshot), keyed by school id.
SCHOOL_TIMETABLE = "school.timetable.v1"
# chat: keyed by chat id.
CHAT_MESSAGE = "chat.message.v1"
# media-signal: keyed by room id.
MEDIA_SIGNAL_ROOM = "media_signal.room.v1"

# Family export (issue 17): identity's, school's and media-signal's parts of an export, keyed by
# the export id; personal data, read by chat only, records kept 7 days (docs/chat.md, "Data exports").
EXPORT_PARTS = "export.parts.v1"

# The school topics other services project (who is in which school and class, and its policy).
SCHOOL_DIRECTORY = (SCHOOL_SCHOOL, SCHOOL_CLASS, SCHOOL_MEMBERSHIP)
SCHOOL_TOPICS = (*SCHOOL_DIRECTORY, SCHOOL_INVITE)

# Erasure reports (issue 17): a topic with several producers (export.parts.v1 is the other) — identity, school, chat and
# media-signal each publish parta.common.v1.ErasureReported (counts of what they removed for one
# erased account), keyed by the erased user id. Read by identity and audit.
ERASURE_REPORT = "erasure.report.v1"

# audit: what to append to each school's chain (AuditRecorded), keyed by school id; the chain is
# built from this topic alone, so it is kept as long as the trail (docs/audit.md).
AUDIT_RECORD = "audit.record.v1"

ALL = (
    IDENTITY_USER,
    *SCHOOL_TOPICS,
    SCHOOL_TIMETABLE,
    CHAT_MESSAGE,
    MEDIA_SIGNAL_ROOM,
    ERASURE_REPORT,
    EXPORT_PARTS,
    AUDIT_RECORD,
)

# A record that keeps failing on its own goes to `<topic>.dlq` (parta_common.events.consumer).
DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX
