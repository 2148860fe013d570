"""tests/bench/cpu_profile.py sorts py-spy's raw stacks into the work the event loop ran and, inside
the RPC, into chat's own innermost frames — checked on hand-written stacks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cpu_profile import split

LOOP = "main (chat/bootstrap.py:198);run (asyncio/runners.py:190);Handle._run (asyncio/events.py:80)"
RPC = "_wrap.<locals>.unary_response.<locals>.run (parta_common/grpc/edge.py:396)"
SEND = "ChatServicer.SendMessage (chat/api/servicers.py:101);Messages.send_message (chat/app/messages.py:146)"


def test_samples_are_split_by_work_and_by_chat_frame(tmp_path: Path) -> None:
    raw = tmp_path / "stacks.txt"
    raw.write_text(
        "\n".join(
            [
                f"{LOOP};{RPC};{SEND};Sequences.next (chat/adapters/mongo/sequences.py:26);"
                "find_one_and_update (pymongo/asynchronous/collection.py:3662) 6",
                f"{LOOP};{RPC};_checked (parta_common/grpc/edge.py:366) 2",
                f"{LOOP} 5",
                f"{LOOP};OutboxRelay._run (parta_common/events/outbox.py:172);x (y.py:1) 3",
                "Thread._bootstrap (threading.py:1002);Thread.run (threading.py:982) 1",
            ]
        )
        + "\n"
    )
    total, work, in_rpc = split(raw)
    assert total == 17
    assert work == {
        "the RPC (edge → servicer → use case)": 8,
        "(native: gRPC core and asyncio C callbacks)": 5,
        "OutboxRelay._run (parta_common/events/outbox.py:172)": 3,
        "(outside the event loop: threads, selector)": 1,
    }
    # The bootstrap's `main` is chat code too, but it sits below the RPC and must not be counted.
    assert in_rpc == {
        "Sequences.next (chat/adapters/mongo/sequences.py:26)": 6,
        "(edge and kit, before the servicer)": 2,
    }


pytestmark = pytest.mark.unit
