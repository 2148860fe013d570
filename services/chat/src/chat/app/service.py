"""chat's use cases built from its ports: what bootstrap wires to the store and the unit tests to fakes."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.clock import Clock

from chat.app.access import Access
from chat.app.chats import Chats
from chat.app.files import FileLimits, Files
from chat.app.held import HeldMessages
from chat.app.messages import ChatPolicy, Messages
from chat.app.moderation import Moderation
from chat.app.ports import (
    ChatRepository,
    FileQuotaRepository,
    FileRepository,
    MemberRepository,
    MessageRepository,
    Notifier,
    Policies,
    Preferences,
    ProjectionStore,
    ReportRepository,
    SchoolFacts,
    UrgentAllowance,
)
from chat.app.preferences import UserPreferences
from chat.app.provisioning import Provisioning
from chat.app.reads import Reads


@dataclass(frozen=True)
class ChatPorts:
    chats: ChatRepository
    members: MemberRepository
    messages: MessageRepository
    reports: ReportRepository
    files: FileRepository
    facts: SchoolFacts
    projections: ProjectionStore
    policies: Policies
    file_quotas: FileQuotaRepository
    preferences: Preferences
    urgent_uses: UrgentAllowance


@dataclass(frozen=True)
class ChatApp:
    chats: Chats
    messages: Messages
    reads: Reads
    moderation: Moderation
    files: Files
    provisioning: Provisioning
    preferences: UserPreferences
    held: HeldMessages


def build_app(
    ports: ChatPorts,
    clock: Clock,
    notify: Notifier,
    *,
    policy: ChatPolicy | None = None,
    file_limits: FileLimits | None = None,
) -> ChatApp:
    p = ports
    access = Access(p.members, p.facts)
    policy = policy if policy else ChatPolicy()
    return ChatApp(
        chats=Chats(p.chats, p.members, p.messages, access, clock, notify, p.policies),
        messages=Messages(
            p.messages,
            p.files,
            p.facts,
            access,
            clock,
            notify,
            p.policies,
            policy,
            preferences=p.preferences,
            allowance=p.urgent_uses,
        ),
        reads=Reads(p.members, p.messages, access, clock, notify),
        moderation=Moderation(
            p.members,
            p.messages,
            p.reports,
            access,
            clock,
            chats=p.chats,
            notify=notify,
            policies=p.policies,
            sealer=policy.sealer,
        ),
        files=Files(
            p.files,
            p.members,
            clock,
            file_limits if file_limits else FileLimits(20 << 20, 200 << 20, 1 << 20),
            p.messages,
            p.file_quotas,
            access,
            notify,
        ),
        provisioning=Provisioning(p.chats, p.members, p.messages, p.facts, p.projections, clock, notify, p.policies),
        preferences=UserPreferences(p.preferences),
        held=HeldMessages(p.chats, p.messages, access, notify),
    )
