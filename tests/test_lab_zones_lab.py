"""The lab's bulk zone helpers, which the scale benchmarks stand on: a fleet applied at
one size is removed before the next, so every size runs on servers holding as many
zones; a removed zone must be gone, and leave nothing that comes back with its name."""

from __future__ import annotations

import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

from tests.conftest import unique_zone
from tests.lab.servers import answers_soa

PROVIDERS = ["pdns", "bind", "knot"]


def _served(lab, name: str, zone: str) -> bool:
    server = lab.servers[name]
    return answers_soa(server.address, server.port, zone)


def test_zones_added_in_bulk_are_removed_and_come_back_empty(lab):
    zones = [unique_zone("bulk") for _ in range(2)]
    www = f"www.{zones[0]}"
    lab.add_zones(zones, PROVIDERS, {zones[0]: [(www, "A", 300, ["192.0.2.1"])]})
    for name in ("bind", "knot"):  # a record in the server's journal too, not only in its file
        server = lab.servers[name]
        update = dns.update.UpdateMessage(zones[0], keyring=dns.tsigkeyring.from_text(
            {server.key_name: server.key_secret}), keyalgorithm="hmac-sha256")
        update.add(f"mail.{zones[0]}", 300, "A", "192.0.2.2")
        reply = dns.query.tcp(update, server.address, port=server.port, timeout=5)
        assert reply.rcode() == dns.rcode.NOERROR
    assert all(_served(lab, name, zone) for name in PROVIDERS for zone in zones)
    lab.remove_zones(zones, PROVIDERS)
    deadline = time.monotonic() + 10
    while any(_served(lab, name, zone) for name in PROVIDERS for zone in zones):
        assert time.monotonic() < deadline, "a removed zone is still served"
        time.sleep(0.1)
    assert not any(zone in lab.servers[name].zones for name in PROVIDERS for zone in zones)
    # added again under the same name, the zone holds only what it is given now
    lab.add_zones(zones[:1], PROVIDERS)
    for name in PROVIDERS:
        server = lab.servers[name]
        for gone in (www, f"mail.{zones[0]}"):
            reply = dns.query.udp(dns.message.make_query(gone, "A"), server.address, port=server.port,
                                  timeout=2)
            assert reply.rcode() == dns.rcode.NXDOMAIN, (name, reply.to_text())
