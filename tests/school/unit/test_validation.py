"""The text checks shared by every noun: control characters, length, blanks."""

from __future__ import annotations

from parta_common.errors import Violations
from school.domain.validation import check_text


def test_text_checks_catch_control_characters_length_and_blanks():
    for bad in ("a\x00b", "x" * 201, "   ", " padded", "a\u202eb"):
        v = Violations()
        check_text(v, "name", bad, 200, required=True)
        assert v.items, bad
