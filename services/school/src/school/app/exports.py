"""Family-scoped export (issue 17): school's part of an export — the subject's memberships, active
and ended, with their schools' and classes' names. Answered from identity's DataExportRequested
(parta_common.exports), which identity sends only once it has authorized the export."""

from __future__ import annotations

from typing import Any

from school.app.common import Deps


class ExportParts:
    def __init__(self, deps: Deps):
        self._deps = deps

    async def memberships_part(self, subject_user_id: str) -> dict[str, Any]:
        memberships = await self._deps.memberships.of_user(subject_user_id, active_only=False)
        schools = {s.id: s for s in await self._deps.schools.get_many(sorted({m.school_id for m in memberships}))}
        classes = {}
        for class_id in sorted({m.class_id for m in memberships if m.class_id}):
            found = await self._deps.classes.get(class_id)
            if found is not None:
                classes[class_id] = found
        rows = []
        for m in sorted(memberships, key=lambda m: (not m.active, m.school_id, m.class_id, m.id)):
            school = schools.get(m.school_id)
            school_class = classes.get(m.class_id)
            rows.append(
                {
                    "membership_id": m.id,
                    "school_id": m.school_id,
                    "school_name": school.name if school else "",
                    "school_role": m.school_role.name.lower(),
                    "class_id": m.class_id,
                    "class_title": school_class.title if school_class else "",
                    "academic_year": school_class.academic_year if school_class else "",
                    "class_role": m.class_role.name.lower(),
                    "child_user_id": m.child_user_id,
                    "subject": m.subject,
                    "verified": m.verified,
                    "active": m.active,
                }
            )
        return {"user_id": subject_user_id, "memberships": rows}
