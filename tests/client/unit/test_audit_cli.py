"""`parta audit list|verify`: pages through ListAuditEntries up to --limit with the filters given,
prints who/whom by name, and `verify` exits 3 on a broken chain. Fake services on port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])


class FakeProfiles(profiles_pb2_grpc.ProfileServiceServicer):
    async def BatchGetDisplayNames(self, request, context):  # type: ignore[no-untyped-def]
        names = {"u-t": "Пётр Иванов", "u-s": "Миша Петров"}
        return profiles_pb2.BatchGetDisplayNamesResponse(
            names=[profiles_pb2.DisplayName(user_id=u, display_name=names[u]) for u in request.user_ids if u in names]
        )


class FakeAudit(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, intact: bool = True) -> None:
        self.requests: list[audit_pb2.ListAuditEntriesRequest] = []
        self.intact = intact

    async def ListAuditEntries(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        start = int(request.page_token or "30")
        seqs = list(range(start, max(0, start - request.page_size), -1))
        entries = [
            audit_pb2.AuditEntry(
                school_id="s-1",
                seq=s,
                kind="chat.direct_message",
                actor_user_id="u-t",
                subject_user_ids=["u-s"],
                attributes={"chat_id": "dm-1"},
            )
            for s in seqs
        ]
        following = seqs[-1] - 1 if seqs and seqs[-1] > 1 else 0
        return audit_pb2.ListAuditEntriesResponse(entries=entries, next_page_token=str(following) if following else "")

    async def VerifyAuditChain(self, request, context):  # type: ignore[no-untyped-def]
        if self.intact:
            return audit_pb2.VerifyAuditChainResponse(intact=True, entries_checked=30, head_seq=30, head_hash="ab" * 32)
        return audit_pb2.VerifyAuditChainResponse(
            intact=False,
            entries_checked=4,
            head_seq=30,
            first_broken_seq=5,
            problem=audit_pb2.CHAIN_PROBLEM_MISSING,
            detail="entry 5 is missing",
        )


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakeAudit, dict[str, str]]]:
    audit = FakeAudit()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(), server)
    profiles_pb2_grpc.add_ProfileServiceServicer_to_server(FakeProfiles(), server)
    audit_pb2_grpc.add_AuditServiceServicer_to_server(audit, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "admin").save(
        Session(user_id="u-a", phone="+79000000002", access_token="a", refresh_token="r")
    )
    env = {
        "PARTA_HOME": str(tmp_path),
        **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "AUDIT")},
    }
    yield audit, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "admin", *argv], env=env)


async def test_list_pages_up_to_the_limit_with_the_filters_and_names(services) -> None:
    audit, env = services
    result = await parta(
        env, "--json", "audit", "list", "--kind", "chat.direct_message", "--since", "2026-12-01", "--limit", "130"
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [int(e["seq"]) for e in entries] == list(range(30, 0, -1))  # all 30, over one page of 100
    first = audit.requests[0]
    assert (first.school_id, first.kind, first.page_size) == ("s-1", "chat.direct_message", 100)
    assert first.HasField("occurred_after") and not first.HasField("occurred_before")
    shown = await parta(env, "audit", "list", "--limit", "12")
    assert shown.exit_code == 0, shown.output
    assert "Пётр Иванов" in shown.stdout and "Миша Петров" in shown.stdout and "chat_id=dm-1" in shown.stdout
    assert [r.page_size for r in audit.requests[1:]] == [12]


async def test_verify_prints_the_head_or_the_break_and_exits_3_when_broken(services) -> None:
    audit, env = services
    ok = await parta(env, "audit", "verify")
    assert ok.exit_code == 0 and "intact: 30 entries" in ok.stdout
    audit.intact = False
    broken = await parta(env, "audit", "verify")
    assert broken.exit_code == 3 and "BROKEN at #5" in broken.stdout


async def test_a_bad_date_is_a_usage_error(services) -> None:
    audit, env = services
    result = await parta(env, "audit", "list", "--since", "yesterday")
    assert result.exit_code == 2
    assert audit.requests == []
