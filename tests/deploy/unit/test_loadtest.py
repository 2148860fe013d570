"""The load-testing kit without a network: scenario files match the real protos, ghz command lines are
bounded and carry no token in clear on error, and ghz's JSON report becomes the printed summary."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

ROOT = Path(__file__).resolve().parents[3]
SCENARIO_FILES = sorted((ROOT / "deploy" / "loadtest" / "scenarios").glob("*.json"))


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ghz = _module("parta_loadtest_ghz", ROOT / "deploy" / "loadtest" / "ghz.py")


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> descriptor_pool.DescriptorPool:
    out = ghz.build_protoset(ROOT / "proto", tmp_path_factory.mktemp("protoset") / "parta.protoset")
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


def test_there_are_scenarios_for_identity_and_chat_at_least():
    names = {p.stem for p in SCENARIO_FILES}
    assert {"identity", "school"} <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenarios_call_real_methods_with_well_formed_requests(path: Path, pool):
    scenario_file = ghz.load(path)
    assert scenario_file.service == path.stem
    assert scenario_file.requires[0] == "identity", "tokens come from identity, which starts first"
    assert scenario_file.requires[-1] == path.stem
    for scenario in scenario_file.scenarios:
        service_name, method_name = scenario.call.rsplit(".", 1)
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        # Fill seed placeholders with stand-ins and ghz templates with what ghz would produce, then
        # parse into the request type: a misspelt field or enum fails here, not in a load run.
        names = set(ghz.PLACEHOLDER.findall(json.dumps(scenario.data)))
        # "1" parses both as a string field and as a (JSON-string) int64 field.
        data = ghz.fill(scenario.data, {n: (["u1", "u2"] if n.endswith("_ids") else "1") for n in names})
        text = re.sub(r"\{\{[^}]*\}\}", "1", json.dumps(data))
        request_class = message_factory.GetMessageClass(method.input_type)
        json_format.Parse(text, request_class())


def test_fill_replaces_placeholders_and_refuses_missing_ones():
    assert ghz.fill({"a": "${x}-${y}", "b": ["${x}"], "c": 3}, {"x": "1", "y": 2}) == {"a": "1-2", "b": ["1"], "c": 3}
    assert ghz.fill({"ids": "${ids}"}, {"ids": ["a", "b"]}) == {"ids": ["a", "b"]}
    with pytest.raises(KeyError, match="chat_id"):
        ghz.fill({"chat_id": "${chat_id}"}, {})


def test_command_is_bounded_and_authenticated(tmp_path):
    scenario = ghz.Scenario(name="s", call="parta.chat.v1.ChatService.ListChats", data={"page": {"page_size": 20}})
    argv = ghz.command(
        tmp_path / "ghz", scenario, "127.0.0.1:1", {}, ["tok-a", "tok-b"], duration="5s", concurrency=4, connections=2
    )
    assert "--duration=5s" in argv and "--concurrency=4" in argv and "--connections=2" in argv
    assert argv[-1] == "127.0.0.1:1"
    (metadata,) = [a for a in argv if a.startswith("--metadata=")]
    assert json.loads(metadata.split("=", 1)[1]) == {"authorization": "Bearer tok-a"}
    public = ghz.Scenario(name="p", call="x.Y.Z", data={}, auth=False)
    argv = ghz.command(tmp_path / "ghz", public, "h:1", {}, [], duration="1s", concurrency=1, connections=1, rps=50)
    assert not any(a.startswith("--metadata") for a in argv) and "--rps=50" in argv


def test_tokens_are_redacted_from_errors():
    text = 'error unmarshaling metadata {"authorization": "Bearer eyJhbGc.eyJzdWIi.sig-_x"}'
    assert "eyJ" not in ghz.redact(text) and "Bearer <redacted>" in ghz.redact(text)


def test_report_becomes_a_summary_and_a_table():
    report = {
        "count": 1000,
        "rps": 200.5,
        "average": 4_000_000,
        "fastest": 1_000_000,
        "slowest": 50_000_000,
        "latencyDistribution": [
            {"percentage": 50, "latency": 3_000_000},
            {"percentage": 90, "latency": 8_000_000},
            {"percentage": 99, "latency": 20_000_000},
        ],
        "statusCodeDistribution": {"OK": 990, "Unavailable": 10},
        "errorDistribution": {"rpc error: code = Unavailable desc = x": 10},
    }
    summary = ghz.parse(ghz.Scenario(name="send", call="a.B.C", data={}), report)
    assert (summary.count, summary.rps, summary.p50_ms, summary.p90_ms, summary.p99_ms) == (1000, 200.5, 3, 8, 20)
    assert summary.error_ratio == pytest.approx(0.01)
    table = ghz.table([summary])
    assert "send" in table and "200.5" in table and "20.00" in table and "1.0%" in table
    assert "10 × rpc error" in table
