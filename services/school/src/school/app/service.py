"""school's use cases built from its dependencies: what bootstrap wires to the store and the unit
tests to fakes (chat's `app/service.py` is the same idiom)."""

from __future__ import annotations

from dataclasses import dataclass

from school.app.admins import Admins
from school.app.classes import Classes
from school.app.common import Deps
from school.app.invites import Invites
from school.app.join_requests import JoinRequests
from school.app.memberships import Memberships
from school.app.policy import Policies
from school.app.retention import Retention
from school.app.schools import Schools
from school.app.staff import StaffVerification
from school.app.years import AcademicYears


@dataclass(frozen=True)
class SchoolApp:
    schools: Schools
    admins: Admins
    staff: StaffVerification
    policies: Policies
    years: AcademicYears
    classes: Classes
    memberships: Memberships
    invites: Invites
    join_requests: JoinRequests
    retention: Retention


def build_app(deps: Deps) -> SchoolApp:
    admins = Admins(deps)
    staff = StaffVerification(deps)
    invites = Invites(deps)
    return SchoolApp(
        schools=Schools(deps, admins),
        admins=admins,
        staff=staff,
        policies=Policies(deps),
        years=AcademicYears(deps),
        classes=Classes(deps),
        memberships=Memberships(deps, admins, staff),
        invites=invites,
        join_requests=JoinRequests(deps, invites),
        retention=Retention(deps),
    )
