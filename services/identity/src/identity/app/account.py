"""The owner's data (152-FZ): export everything we hold about them, delete the account."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from parta_common.clock import Clock
from parta_common.errors import InvalidArgument
from parta_common.retries import with_retries

from identity.app.common import live_user, user_not_found
from identity.app.policy import IdentityPolicy
from identity.app.ports import SessionRepository, UserRepository
from identity.domain.sessions import RevokeReason, Session
from identity.domain.users import User


@dataclass(frozen=True)
class Export:
    user: User
    sessions: list[Session]
    children: list[User]
    guardians: list[User]


class Accounts:
    def __init__(self, *, users: UserRepository, sessions: SessionRepository, clock: Clock, policy: IdentityPolicy):
        self.users = users
        self.sessions = sessions
        self.clock = clock
        self.policy = policy

    async def export(self, user_id: str) -> Export:
        user = await live_user(self.users, user_id)
        return Export(
            user=user,
            sessions=await self.sessions.list_active(user_id),
            # Confirmed links only: a pending request does not make anyone's child visible.
            children=[c for c in await self.users.children_of(user_id) if not c.deleted and c.is_child_of(user_id)],
            guardians=await self.users.many([g.guardian_id for g in user.guardians]),
        )

    async def delete(self, user_id: str, confirm: bool) -> None:
        if not confirm:
            raise InvalidArgument.field("confirm", "must be true to delete the account")
        await self.erase(user_id, user_id)

    async def erase(self, user_id: str, deleted_by: str) -> None:
        """The deletion itself, by the person or (app/erasure.py) by a guardian of a young child."""
        now = self.clock.now()
        # Sessions first: from this moment no token of this user passes identity's own check.
        revoked = await self.sessions.revoke_all(user_id, RevokeReason.ACCOUNT_DELETED, now)
        children = 0
        for child in await self.users.children_of(user_id):
            children += await with_retries(partial(self._unlink_child, child.id, user_id))

        async def erase() -> None:
            user = await self.users.get(user_id)
            if user is None:
                raise user_not_found()
            user.delete(self.clock.now(), deleted_by, sessions_revoked=revoked, children_unlinked=children)
            await self.users.save(user)

        await with_retries(erase)

    async def _unlink_child(self, child_id: str, guardian_id: str) -> int:
        child = await self.users.get(child_id)
        if child is None or child.link_of(guardian_id) is None:
            return 0
        child.unlink_guardian(guardian_id, self.clock.now().date(), self.policy.consent_age, by=guardian_id)
        await self.users.save(child)
        return 1
