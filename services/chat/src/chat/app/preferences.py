"""A user's own chat preferences: whom they block from DMing them, and (teachers) whether parents'
urgent messages reach them across quiet hours."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.errors import Violations

from chat.app.ports import Preferences
from chat.domain import rules


@dataclass
class UserPreferences:
    preferences: Preferences

    @staticmethod
    def _check_target(user_id: str, target: str) -> None:
        v = Violations()
        rules.check_id(v, "user_id", target)
        if target == user_id:
            v.add("user_id", "you cannot block yourself")
        v.raise_if_any()

    async def block(self, user_id: str, target: str) -> None:
        """Idempotent. Any id may be blocked (the answer does not confirm that the person exists)."""
        self._check_target(user_id, target)
        await self.preferences.block(user_id, target)

    async def unblock(self, user_id: str, target: str) -> None:
        self._check_target(user_id, target)
        await self.preferences.unblock(user_id, target)

    async def get(self, user_id: str) -> tuple[list[str], bool]:
        return await self.preferences.get(user_id)

    async def set_urgent_notifications(self, user_id: str, enabled: bool) -> bool:
        await self.preferences.set_urgent_notifications(user_id, enabled)
        return enabled
