"""Scenario files → ghz command lines → summaries. No Parta imports: usable against any deployment.

A scenario file (deploy/loadtest/scenarios/<service>.json) names the gRPC calls to load and the data
to send. Strings may hold `${name}` placeholders filled from the seed (ids, tokens made by
seeds.py) and ghz's own templates (`{{newUUID}}`, `{{.RequestNumber}}`, `{{randomString 8}}`),
which ghz fills per request. `"auth": true` (the default) adds `authorization: Bearer <token>` of the
first seeded person (ghz accepts one metadata object per run).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Scenario:
    name: str
    call: str
    data: Any
    auth: bool = True
    concurrency: int | None = None
    rps: int | None = None
    description: str = ""


@dataclass(frozen=True)
class ScenarioFile:
    service: str
    requires: list[str]
    seed: str
    scenarios: list[Scenario]
    notes: str = ""


@dataclass
class Summary:
    scenario: str
    call: str
    count: int
    rps: float
    average_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    fastest_ms: float
    slowest_ms: float
    status: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return self.status.get("OK", 0)

    @property
    def error_ratio(self) -> float:
        return 0.0 if self.count == 0 else 1 - self.ok / self.count


def load(path: Path) -> ScenarioFile:
    raw = json.loads(path.read_text())
    scenarios = [Scenario(**item) for item in raw["scenarios"]]
    names = [s.name for s in scenarios]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: scenario names must be unique")
    return ScenarioFile(raw["service"], raw["requires"], raw["seed"], scenarios, raw.get("notes", ""))


def fill(value: Any, variables: dict[str, Any]) -> Any:
    """Replace `${name}` in every string of a JSON-like value; a missing name is an error, not ""."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]  # "${user_ids}" may stand for a list or a number

        def one(match: re.Match[str]) -> str:
            if match.group(1) not in variables:
                raise KeyError(f"scenario needs ${{{match.group(1)}}} but the seed did not provide it")
            return str(variables[match.group(1)])

        return PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, variables) for k, v in value.items()}
    return value


def build_protoset(proto_root: Path, out: Path) -> Path:
    """All of proto/ compiled into one descriptor set for ghz.

    ghz 0.121's reflection client finds no symbol on our servers (they serve the v1alpha reflection
    API that grpcurl falls back to, ghz does not), and a protoset also works where reflection is off.
    """
    import grpc_tools
    from grpc_tools import protoc

    sources = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    out.parent.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(
        ["protoc", f"-I{proto_root}", f"-I{well_known}", "--include_imports", f"--descriptor_set_out={out}", *sources]
    )
    if code != 0:
        raise RuntimeError("protoc could not build the descriptor set for ghz")
    return out


def command(
    ghz: Path,
    scenario: Scenario,
    target: str,
    variables: dict[str, Any],
    tokens: list[str],
    *,
    duration: str,
    concurrency: int,
    connections: int,
    rps: int = 0,
    timeout: str = "10s",
    protoset: Path | None = None,
) -> list[str]:
    argv = [
        str(ghz),
        "--insecure",
        *([f"--protoset={protoset}"] if protoset else []),
        f"--call={scenario.call}",
        f"--data={json.dumps(fill(scenario.data, variables), ensure_ascii=False)}",
        f"--duration={duration}",
        # Calls still in flight when the duration ends are waited for (and counted), not cancelled.
        "--duration-stop=wait",
        f"--concurrency={scenario.concurrency or concurrency}",
        f"--connections={connections}",
        f"--timeout={timeout}",
        "--format=json",
        # The first calls (channel set-up) are not part of the numbers; the seed already warmed the
        # service (keys fetched, indexes built), so a few are enough even for slow write scenarios.
        "--skipFirst=5",
    ]
    if scenario.rps or rps:
        argv.append(f"--rps={scenario.rps or rps}")
    if scenario.auth:
        if not tokens:
            raise ValueError(f"{scenario.name}: needs tokens and the seed gave none")
        # ghz takes one metadata object per run (an array is refused), so one caller per scenario;
        # the other seeded people still shape the data (chat members, names looked up, …).
        argv.append(f"--metadata={json.dumps({'authorization': f'Bearer {tokens[0]}'})}")
    argv.append(target)
    return argv


BEARER = re.compile(r"Bearer [A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """Access tokens never reach the terminal or a log, even inside ghz's error messages."""
    return BEARER.sub("Bearer <redacted>", text)


def _ms(nanoseconds: float) -> float:
    return nanoseconds / 1e6


def parse(scenario: Scenario, report: dict[str, Any]) -> Summary:
    percentiles = {int(p["percentage"]): p["latency"] for p in report.get("latencyDistribution") or []}
    return Summary(
        scenario=scenario.name,
        call=scenario.call,
        count=int(report.get("count", 0)),
        rps=float(report.get("rps", 0.0)),
        average_ms=_ms(report.get("average", 0)),
        p50_ms=_ms(percentiles.get(50, 0)),
        p90_ms=_ms(percentiles.get(90, 0)),
        p99_ms=_ms(percentiles.get(99, 0)),
        fastest_ms=_ms(report.get("fastest", 0)),
        slowest_ms=_ms(report.get("slowest", 0)),
        status=dict(report.get("statusCodeDistribution") or {}),
        errors=dict(report.get("errorDistribution") or {}),
    )


def run(argv: list[str], scenario: Scenario, timeout_seconds: float) -> Summary:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_seconds, check=False)
    # ghz exits non-zero when any call failed but still prints the report; no report is the real failure.
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        why = redact(result.stderr.strip())[:2000]
        raise RuntimeError(f"ghz gave no report for {scenario.name} (exit {result.returncode}): {why}") from error
    return parse(scenario, report)


def table(summaries: list[Summary]) -> str:
    header = f"{'scenario':<28} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}"
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{s.scenario:<28} {s.count:>9} {s.rps:>9.1f} {s.p50_ms:>8.2f} {s.p90_ms:>8.2f} {s.p99_ms:>8.2f}"
            f" {s.error_ratio:>6.1%}"
        )
        for message, n in sorted(s.errors.items(), key=lambda kv: -kv[1])[:3]:
            lines.append(f"    {n} × {message[:110]}")
    return "\n".join(lines)
