"""The kit's one range check for integers at the edge (issue 11 finding 10)."""

from __future__ import annotations

import pytest
from parta_common.errors import InvalidArgument, Violations
from parta_common.integers import MAX_CURSOR, MAX_OFFSET, check_int, require_int
from parta_common.pagination import encode_page_token, page_offset

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [0, 1, MAX_CURSOR])
def test_cursors_in_range_pass(value: int) -> None:
    v = Violations()
    assert check_int(v, "after_seq", value)
    assert v.items == []


@pytest.mark.parametrize("value", [-1, MAX_CURSOR + 1, 2**63 - 1, 2**64, 10**20, True, 1.0, "3", None])
def test_anything_else_is_a_field_violation(value: object) -> None:
    v = Violations()
    assert not check_int(v, "after_seq", value)
    assert [item.field for item in v.items] == ["after_seq"]


def test_require_int_raises_invalid_argument_on_the_field() -> None:
    assert require_int("offset", 7, maximum=10) == 7
    with pytest.raises(InvalidArgument) as info:
        require_int("offset", 11, maximum=10)
    assert [item.field for item in info.value.violations] == ["offset"]


def test_page_offset_decodes_and_bounds_the_number() -> None:
    assert page_offset("") == 0
    assert page_offset(encode_page_token({"o": 40})) == 40
    assert page_offset(encode_page_token({"o": MAX_OFFSET})) == MAX_OFFSET
    for bad in (10**20, MAX_OFFSET + 1, -1, False, "5"):
        with pytest.raises(InvalidArgument) as info:
            page_offset(encode_page_token({"o": bad}), "page.page_token")
        assert [item.field for item in info.value.violations] == ["page.page_token"]
