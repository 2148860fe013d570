"""The client's address behind proxies: forwarded headers count only from trusted proxies."""

from __future__ import annotations

import grpc
import pytest
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_common.grpc.forwarded import client_address, parse_networks
from parta_common.settings import ServiceSettings
from parta_common.testing.echo import echo_runner

pytestmark = pytest.mark.unit

INGRESS = parse_networks(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_claims():
    assert client_address("ipv4:203.0.113.7:5000", {"x-forwarded-for": "1.2.3.4"}, ()) == "203.0.113.7"


def test_a_direct_client_cannot_forge_its_address():
    # The peer is not our proxy: its X-Forwarded-For is its own words.
    assert client_address("ipv4:203.0.113.7:5000", {"x-forwarded-for": "1.2.3.4"}, INGRESS) == "203.0.113.7"


def test_from_the_ingress_the_right_most_untrusted_hop_is_the_client():
    # The client wrote "1.2.3.4" itself; the ingress appended the real peer 198.51.100.9.
    metadata = {"x-forwarded-for": "1.2.3.4, 198.51.100.9"}
    assert client_address("ipv4:10.1.2.3:40000", metadata, INGRESS) == "198.51.100.9"


def test_chained_trusted_proxies_are_skipped():
    metadata = {"x-forwarded-for": "198.51.100.9, 10.2.0.5"}  # client → ingress → web gateway
    assert client_address("ipv4:10.1.2.3:40000", metadata, INGRESS) == "198.51.100.9"


def test_the_standard_forwarded_header_with_ipv6_and_ports():
    metadata = {"forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"'}
    assert client_address("ipv6:[fd00::1]:443", metadata, INGRESS) == "2001:db8::17"


def test_garbage_at_the_trusted_end_falls_back_to_the_proxy_not_a_guess():
    assert client_address("ipv4:10.1.2.3:1", {"x-forwarded-for": "1.2.3.4, unknown"}, INGRESS) == "10.1.2.3"


def test_the_setting_parses_cidrs_and_refuses_nonsense(monkeypatch):
    base = {"mongodb_uri": "mongodb://x", "mongodb_database": "d", "kafka_bootstrap": "k:9092"}
    settings = ServiceSettings(**base, trusted_proxies="10.0.0.0/8, 192.168.1.1")
    assert [str(n) for n in settings.trusted_networks()] == ["10.0.0.0/8", "192.168.1.1/32"]
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        ServiceSettings(**base, trusted_proxies="10.0.0.0/8, ingress")


async def test_the_edge_hands_the_forwarded_address_to_the_servicer():
    runner = echo_runner(verifier=None, trusted_proxies=parse_networks(["127.0.0.1"]))
    port = await runner.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = echo_pb2_grpc.EchoServiceStub(channel)
            reply = await stub.Echo(echo_pb2.EchoRequest(text="hi"), metadata=[("x-forwarded-for", "198.51.100.9")])
            assert reply.client_address == "198.51.100.9"
            plain = await stub.Echo(echo_pb2.EchoRequest(text="hi"))
            assert plain.client_address == "127.0.0.1"
    finally:
        await runner.stop()
