"""A school seeded through the public APIs for e2e tests: the operator registers it, its admin claims
the seat by phone, then classes, each with a teacher at its head, children (students of the class)
and each child's guardians (parents bound to the child). Every person signs in with a random phone
and has a profile ("Анна Иванова"). The seats land in chat and media-signal through Kafka: tests wait
for what they need there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.chat.support import Person
from tests.e2e import school_client as sc
from tests.e2e.identity_client import create_profile, random_phone, sign_in

ADULT = "1985-03-14"
TEEN = "2010-02-01"  # past the consent age: consent is not what these seats are about


@dataclass
class SeededClass:
    class_id: str
    head: Person | None  # a teacher of the school, at the head of the class
    children: list[Person]
    guardians: dict[str, list[Person]] = field(default_factory=dict)  # child's user id → guardians


@dataclass
class SeededSchool:
    identity: str
    school: str
    sms_file: Path
    school_id: str
    admin: Person

    async def person(self, birth_date: str = ADULT) -> Person:
        signed = await sign_in(self.identity, random_phone(), self.sms_file)
        await create_profile(self.identity, signed.access_token, "Анна", "Иванова", birth_date)
        return Person(signed.user_id, signed.access_token)

    async def join(self, who: Person, role: int, class_id: str = "", child: str = "") -> None:
        await sc.join_school(
            self.school, self.admin.token, self.school_id, who.token, role, class_id=class_id, child_user_id=child
        )

    async def seat_class(
        self,
        letter: str,
        *,
        grade: int = 5,
        children: Sequence[str] = (),
        guardians: Sequence[int] = (),
        head: bool = True,
    ) -> SeededClass:
        """A class with a child of each birth date in `children`, `guardians[i]` parents for the
        i-th child (none past the list) and, with `head`, a new teacher heading it."""
        klass = await sc.create_class(self.school, self.admin.token, self.school_id, grade, letter)
        seeded = SeededClass(klass.class_id, None, [])
        if head:
            seeded.head = await self.person()
            await self.join(seeded.head, sc.TEACHER)
            await sc.set_class_head(self.school, self.admin.token, klass.class_id, seeded.head.user_id)
        for i, birth_date in enumerate(children):
            child = await self.person(birth_date)
            await self.join(child, sc.STUDENT, klass.class_id)
            seeded.children.append(child)
            seeded.guardians[child.user_id] = [
                await self.person() for _ in range(guardians[i] if i < len(guardians) else 0)
            ]
            for guardian in seeded.guardians[child.user_id]:
                await self.join(guardian, sc.PARENT, klass.class_id, child.user_id)
        return seeded


async def seed_school(identity: str, school: str, sms_file: Path, operator_phone: str) -> SeededSchool:
    """The school registered by the operator (school must run with SCHOOL_OPERATOR_PHONES =
    `operator_phone`) and its admin, who claimed the seat."""
    operator = await sign_in(identity, operator_phone, sms_file)
    admin_phone = random_phone()
    registered = await sc.register_school(school, operator.access_token, admin_phone=admin_phone)
    admin = await sign_in(identity, admin_phone, sms_file)
    await sc.claim(school, admin.access_token)
    return SeededSchool(identity, school, sms_file, registered.school_id, Person(admin.user_id, admin.access_token))
