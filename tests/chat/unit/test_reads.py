"""Read state on in-memory ports: positions only move forward, ReadUpdated rides on the member
row, read counts are the author's (or a moderator's)."""

from __future__ import annotations

from chat.domain import events as ev

from tests.chat.unit.fakes import Fakes
from tests.chat.unit.test_messages import CLASS, fakes, reason  # noqa: F401 (fixture)


async def test_read_positions_move_forward_and_count_for_the_author(fakes: Fakes) -> None:  # noqa: F811
    first = (await fakes.app.messages.send_message("ann", CLASS, "c-1", "one")).message
    await fakes.app.messages.send_message("ann", CLASS, "c-2", "two")
    assert await fakes.app.reads.mark_read("bob", CLASS, 2) == 2
    assert fakes.members.writes[-1] == (f"member:{CLASS}|bob", [ev.ReadUpdated(CLASS, "bob", 2)])
    assert await fakes.app.reads.mark_read("bob", CLASS, 1) == 2  # never backwards
    assert await reason(fakes.app.reads.mark_read("bob", CLASS, 9)) == "INVALID_ARGUMENT"
    assert await fakes.app.reads.read_count("ann", CLASS, first.seq) == (1, 2)  # bob of bob and tom
    assert await fakes.app.reads.read_count("tom", CLASS, first.seq) == (1, 2)  # a moderator may ask
    assert await reason(fakes.app.reads.read_count("bob", CLASS, first.seq)) == "NOT_AUTHOR"
    view = await fakes.app.chats.get_chat("tom", CLASS)
    assert (view.last_seq, view.unread) == (2, 2)
