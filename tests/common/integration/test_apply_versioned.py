"""The kit's one projection write on the real store: newer versions win, replays and older
versions are no-ops, and `only_if` keeps a final state final."""

from __future__ import annotations

from typing import Any

import pytest
from parta_common.mongo import apply_versioned

pytestmark = pytest.mark.integration


async def test_newer_versions_win_and_replays_are_no_ops(mongo_db: Any) -> None:
    rows = mongo_db["projection"]
    assert await apply_versioned(rows, "p1", 2, {"$set": {"name": "two"}})
    assert not await apply_versioned(rows, "p1", 2, {"$set": {"name": "two again"}})
    assert not await apply_versioned(rows, "p1", 1, {"$set": {"name": "one"}})
    assert await apply_versioned(rows, "p1", 5, {"$set": {"name": "five"}})
    assert await rows.find_one({"_id": "p1"}) == {"_id": "p1", "name": "five", "version": 5}


async def test_only_if_keeps_a_final_state(mongo_db: Any) -> None:
    rows = mongo_db["projection"]
    final = {"state": {"$ne": "deleted"}}
    assert await apply_versioned(rows, "p2", 1, {"$set": {"state": "present"}}, only_if=final)
    await rows.update_one({"_id": "p2"}, {"$set": {"state": "deleted"}})
    assert not await apply_versioned(rows, "p2", 9, {"$set": {"state": "present"}}, only_if=final)
    assert (await rows.find_one({"_id": "p2"}))["state"] == "deleted"


async def test_pre_image_returns_what_the_write_replaced(mongo_db: Any) -> None:
    rows = mongo_db["projection"]
    assert await apply_versioned(rows, "p3", 1, {"$set": {"role": "student"}}, pre_image=True) is None  # created
    before = await apply_versioned(rows, "p3", 3, {"$set": {"role": "teacher"}}, pre_image=True)
    assert before == {"_id": "p3", "role": "student", "version": 1}
    assert await apply_versioned(rows, "p3", 2, {"$set": {"role": "parent"}}, pre_image=True) is False  # stale
    assert await apply_versioned(rows, "p3", 3, {"$set": {"role": "parent"}}, pre_image=True) is False  # replay
    assert await rows.find_one({"_id": "p3"}) == {"_id": "p3", "role": "teacher", "version": 3}
