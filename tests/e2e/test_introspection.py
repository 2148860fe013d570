"""Operators' tools against real service processes: grpcurl list/describe through reflection, an
authenticated grpcurl call with a token, and grpc-health-probe for readiness and liveness (the
same checks the Kubernetes probes make). Tools come from deploy/tools.sh, as docs/operations.md says."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e import identity_client as idc
from tests.e2e.harness import ROOT, Stack

BIN = ROOT / ".cache" / "bin"


@pytest.fixture(scope="module")
def tools() -> Path:
    subprocess.run(["bash", str(ROOT / "deploy" / "tools.sh"), "grpcurl", "grpc-health-probe"], check=True)
    return BIN


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)


async def test_grpcurl_and_health_probe_work_as_documented(tools: Path, mongo_uri: str, kafka_bootstrap: str):
    stack = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        identity = await stack.start("identity")
        school = await stack.start("school")
        grpcurl = str(tools / "grpcurl")

        listed = run(grpcurl, "-plaintext", school.address, "list")
        assert listed.returncode == 0, listed.stderr
        services = set(listed.stdout.split())
        assert {"grpc.health.v1.Health", "parta.school.v1.SchoolService", "parta.school.v1.InviteService"} <= services

        described = run(grpcurl, "-plaintext", identity.address, "describe", "parta.identity.v1.AuthService")
        assert described.returncode == 0 and "rpc RequestCode" in described.stdout

        # The documented flow: sign in, then call with `authorization: Bearer <token>`.
        person = await idc.sign_in(identity.address, idc.random_phone(), stack.sms_file)
        header = f"authorization: Bearer {person.access_token}"
        mine = run(grpcurl, "-plaintext", "-H", header, school.address, "parta.school.v1.SchoolService/ListMySchools")
        assert mine.returncode == 0, mine.stderr
        assert json.loads(mine.stdout or "{}").get("schools", []) == []
        anonymous = run(grpcurl, "-plaintext", school.address, "parta.school.v1.SchoolService/ListMySchools")
        assert anonymous.returncode != 0 and "Unauthenticated" in anonymous.stderr

        probe = str(tools / "grpc-health-probe")
        for address in (identity.address, school.address):
            assert run(probe, f"-addr={address}").returncode == 0
            assert run(probe, f"-addr={address}", "-service=parta.liveness").returncode == 0
        unknown = run(probe, f"-addr={school.address}", "-service=no.such.Service")
        assert unknown.returncode != 0
    finally:
        stack.stop_all()
