"""Classes: grade and letter, the title, the staff room (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.errors import Violations

MAX_SUBJECT = 80
MIN_GRADE, MAX_GRADE = 0, 11  # 0 is the pre-school class
MAX_LETTER = 4


def normalize_letter(letter: str) -> str:
    return letter.strip().upper()


def class_title(grade: int, letter: str) -> str:
    return f"{grade}{letter}"


def check_class_name(v: Violations, grade: int, letter: str) -> None:
    if not MIN_GRADE <= grade <= MAX_GRADE:
        v.add("grade", f"must be between {MIN_GRADE} and {MAX_GRADE}")
    if not letter.strip():
        v.add("letter", "must not be empty")
    elif len(letter) > MAX_LETTER or not all(ch.isalpha() for ch in letter.strip()):
        v.add("letter", f"must be 1..{MAX_LETTER} letters")


@dataclass(frozen=True)
class SchoolClass:
    id: str
    school_id: str
    grade: int
    letter: str
    title: str
    academic_year: str
    is_staff_room: bool = False
    archived: bool = False
    version: int = 0

    def unique_key(self) -> str | None:
        """Grade + letter are unique per school and academic year among live classes."""
        if self.is_staff_room or self.archived:
            return None
        return f"{self.school_id}|{self.academic_year}|{self.grade}|{self.letter}"
