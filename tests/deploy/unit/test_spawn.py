"""The local daemons the scripts and tests start: no core files from a crash, and no Python run in
the child between fork and exec (in a process with other threads that child can die silently while
Popen reports it started: a restarted test broker "exited while starting" with an empty log)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
import infra

pytestmark = pytest.mark.unit


def test_a_spawned_daemon_has_no_core_files_and_no_preexec_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(infra, "RUN", tmp_path / "run")
    monkeypatch.setattr(infra, "LOGS", tmp_path / "logs")
    seen: dict[str, object] = {}
    popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        seen.update(kwargs)
        return popen(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(infra.subprocess, "Popen", recording_popen)
    pid = infra.spawn("limits", ["sh", "-c", "ulimit -c"])
    assert os.waitpid(pid, 0)[1] == 0  # our child: reaped here
    assert seen.get("preexec_fn") is None
    assert (tmp_path / "logs" / "limits.log").read_text().strip() == "0"
