"""Reports of messages to the school's moderators, their decisions, and who sees which report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum

from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from parta_common.safety import Person

from chat.domain.chats import ChatKind
from chat.domain.messages import Message


class ReportAction(IntEnum):
    # Values match parta.chat.v1.ReportAction.
    DISMISS = 1
    DELETE_MESSAGE = 2
    MUTE_AUTHOR = 3
    REMOVE_FROM_CHAT = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class ReportState(IntEnum):
    # Values match parta.chat.v1.ReportState.
    OPEN = 1
    DISMISSED = 2
    ACTIONED = 3


@dataclass(frozen=True)
class Decision:
    """One moderator's decision on a report: what was done, by whom, when and why."""

    actions: tuple[ReportAction, ...]
    moderator: str
    note: str
    at: datetime
    muted_until: datetime | None = None


@dataclass(frozen=True)
class Report:
    """A member's report of a message to the school's moderators (one per reporter and message).

    `message` is the message as it was when reported: the queue shows it even after the author
    edits or deletes it. `class_id`/`chat_kind` decide which class head also sees the report."""

    report_id: str
    chat_id: str
    seq: int
    reporter: str
    reason: str
    at: datetime
    school_id: str = ""
    chat_kind: ChatKind = ChatKind.GROUP
    class_id: str = ""
    message: Message | None = None
    state: ReportState = ReportState.OPEN
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def author(self) -> str:
        return self.message.sender_user_id if self.message is not None else ""

    @property
    def outcome(self) -> list[ReportAction]:
        """What was done, across every decision, in action order (what the reporter learns)."""
        return sorted({a for d in self.decisions for a in d.actions})

    @property
    def decided_at(self) -> datetime | None:
        return self.decisions[-1].at if self.decisions else None


# Chats whose reports the class head of the chat's class also moderates.
CLASS_CHATS = frozenset({ChatKind.CLASS, ChatKind.CLASS_PARENTS})


@dataclass(frozen=True)
class Scope:
    """Which reports of a school someone moderates: all (an admin) or those of classes they head."""

    school_id: str
    everything: bool
    classes: frozenset[str]

    def covers(self, report: Report) -> bool:
        if report.school_id != self.school_id:
            return False
        return self.everything or (report.chat_kind in CLASS_CHATS and report.class_id in self.classes)


def moderation_scope(person: Person) -> Scope:
    """PERMISSION_DENIED NOT_MODERATOR for someone who is neither an admin nor a class head."""
    if person.is_admin:
        return Scope(person.school_id, True, frozenset())
    if person.heads:
        return Scope(person.school_id, False, frozenset(person.heads))
    raise PermissionDenied("only the school's admins and class heads read reports", reason="NOT_MODERATOR")


def ensure_covers(scope: Scope, report: Report | None) -> Report:
    """A report the caller does not moderate is NOT_FOUND: its existence is not confirmed."""
    if report is None or not scope.covers(report):
        raise NotFound("no such report", reason="REPORT_NOT_FOUND")
    return report


MIN_MUTE_SECONDS = 60
MAX_MUTE_SECONDS = 366 * 86400


def check_actions(actions: Sequence[ReportAction], mute_seconds: int, chat_kind: ChatKind) -> None:
    """DISMISS alone or any other actions; a mute needs a duration; removal is for group chats."""
    if not actions:
        raise InvalidArgument.field("actions", "choose at least one action")
    if ReportAction.DISMISS in actions and len(set(actions)) > 1:
        raise InvalidArgument.field("actions", "dismiss goes alone")
    if ReportAction.MUTE_AUTHOR in actions and not MIN_MUTE_SECONDS <= mute_seconds <= MAX_MUTE_SECONDS:
        raise InvalidArgument.field("mute_seconds", "a mute lasts 60 s .. 366 days")
    if ReportAction.REMOVE_FROM_CHAT in actions and chat_kind is not ChatKind.GROUP:
        raise FailedPrecondition(
            "members of provisioned chats follow school memberships; mute the author instead",
            reason="PROVISIONED_CHAT",
        )


def decide(report: Report, decision: Decision) -> Report:
    """The report after a decision. A dismissed report cannot be acted on later (and vice versa):
    FAILED_PRECONDITION REPORT_DECIDED; further actions on an actioned report are recorded."""
    dismiss = ReportAction.DISMISS in decision.actions
    if report.state is ReportState.DISMISSED or (dismiss and report.state is ReportState.ACTIONED):
        raise FailedPrecondition("this report has been decided", reason="REPORT_DECIDED")
    state = ReportState.DISMISSED if dismiss else ReportState.ACTIONED
    return replace(report, state=state, decisions=(*report.decisions, decision))
