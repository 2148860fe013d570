"""Educational profiles: create once, read own, update by field mask, display names of schoolmates."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.clock import Clock
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from parta_common.retries import with_retries
from parta_common.validation import require_id, require_request_id

from identity.app.common import live_user
from identity.app.policy import IdentityPolicy
from identity.app.ports import MembershipDirectory, UserRepository
from identity.domain.guardians import LinkState
from identity.domain.profiles import apply_mask, check_mask, new_profile, parse_birth_date
from identity.domain.users import User

MAX_BATCH = 200


@dataclass(frozen=True)
class ProfileInput:
    first_name: str
    last_name: str
    patronymic: str
    birth_date: str


class Profiles:
    def __init__(self, *, users: UserRepository, directory: MembershipDirectory, clock: Clock, policy: IdentityPolicy):
        self.users = users
        self.directory = directory
        self.clock = clock
        self.policy = policy

    async def _load(self, user_id: str) -> User:
        return await live_user(self.users, user_id)

    async def create_profile(self, user_id: str, data: ProfileInput, request_id: str) -> User:
        request_id = require_request_id(request_id, required=False)
        today = self.clock.now().date()
        profile = new_profile(data.first_name, data.last_name, data.patronymic, data.birth_date, today)

        async def attempt() -> User:
            user = await self._load(user_id)
            if user.profile is not None and request_id and user.profile_request_id == request_id:
                return user  # the client retried a create that succeeded
            user.create_profile(profile, request_id, today, self.policy.consent_age)
            await self.users.save(user)
            return user

        return await with_retries(attempt)

    async def get_my_profile(self, user_id: str) -> User:
        user = await self._load(user_id)
        if user.profile is None:
            raise FailedPrecondition("no profile yet; create it first", reason="PROFILE_MISSING")
        return user

    async def update_profile(self, user_id: str, changes: dict[str, str], paths: list[str]) -> User:
        today = self.clock.now().date()
        check_mask(paths)  # bad input is reported as such even before the profile exists

        async def attempt() -> User:
            user = await self.get_my_profile(user_id)
            assert user.profile is not None
            user.update_profile(
                apply_mask(user.profile, changes, paths, today),
                today,
                self.policy.consent_age,
                self.clock.now(),
                birth_date_given="birth_date" in paths,
            )
            await self.users.save(user)
            return user

        return await with_retries(attempt)

    async def _confirmer_role(self, caller_id: str, user: User) -> str:
        """A linked guardian of the person, or an admin of a school the person belongs to. Anyone
        else hears the same NOT_FOUND as when nothing is pending (no oracle about the person)."""
        if caller_id != user.id:
            if user.is_child_of(caller_id):
                return "guardian"
            if await self.directory.is_admin_over(caller_id, user.id):
                return "school_admin"
        raise NotFound("no birth-date change waits for your confirmation", reason="BIRTH_DATE_CHANGE_NOT_FOUND")

    async def confirm_birth_date_change(self, caller_id: str, user_id: str, birth_date: str) -> User:
        user_id = require_id(user_id, "user_id", uuid=True)
        v = Violations()
        expected = parse_birth_date(birth_date, "birth_date", v, self.clock.now().date())
        v.raise_if_any()
        assert expected is not None

        async def attempt() -> User:
            user = await self._load(user_id)
            role = await self._confirmer_role(caller_id, user)
            user.confirm_birth_date(caller_id, role, expected, self.clock.now().date(), self.policy.consent_age)
            await self.users.save(user)
            return user

        return await with_retries(attempt)

    async def decline_birth_date_change(self, caller_id: str, user_id: str) -> None:
        user_id = require_id(user_id, "user_id", uuid=True)

        async def attempt() -> None:
            user = await self._load(user_id)
            role = "owner" if caller_id == user.id else await self._confirmer_role(caller_id, user)
            user.decline_birth_date(caller_id, role)
            await self.users.save(user)

        await with_retries(attempt)

    async def display_names(self, caller_id: str, user_ids: list[str]) -> list[User]:
        """Profiles the caller may see: self, people sharing a school, own guardians and children.
        Anyone else is left out silently, so the answer does not reveal who exists."""
        if len(user_ids) > MAX_BATCH:
            raise InvalidArgument.field("user_ids", f"at most {MAX_BATCH} ids")
        wanted = list(dict.fromkeys(require_id(u, f"user_ids[{i}]", uuid=True) for i, u in enumerate(user_ids)))
        if not wanted:
            return []
        caller = await self._load(caller_id)
        family = {g.guardian_id for g in caller.guardians if g.state is LinkState.LINKED}
        family |= {c.id for c in await self.users.children_of(caller_id) if _linked(c, caller_id)}
        visible = {caller_id} | (family & set(wanted))
        visible |= await self.directory.sharing_school(caller_id, [u for u in wanted if u not in visible])
        found = await self.users.many([u for u in wanted if u in visible])
        return [u for u in found if u.profile is not None and not u.deleted]


def _linked(child: User, guardian_id: str) -> bool:
    link = child.link_of(guardian_id)
    return link is not None and link.state is LinkState.LINKED
