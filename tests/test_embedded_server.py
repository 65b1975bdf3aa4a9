"""The embedded nameserver as a provider: pushed to by dnssync over RFC 2136, read back
over AXFR, answering over UDP and TCP, keeping its zones across a restart, and failing
apply when it is down (a real outage, not a simulated one)."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.update
import dns.zone
import pytest

import dnssync
from dnssync.embedded.fleet import Fleet, server_for
from dnssync.embedded.server import EmbeddedServer, ServerError
from dnssync.model.address import Nameserver, parse_address
from dnssync.model.errors import UsageError
from dnssync.repo.config import ProviderConfig
from dnssync.repo.repository import load_settings
from tests.embedded_repo import ask, run, values, write_repo

ZONE = "emb.test."
BIG = ", ".join(f"'{'t' * 180}-{i}'" for i in range(8))
RECORDS = f"""\
'':
  type: MX
  value: {{exchange: mail.emb.test., preference: 10}}
mail:
  type: A
  value: 192.0.2.25
big:
  type: TXT
  values: [{BIG}]
"""


@pytest.fixture
def pushed(tmp_path):
    """Two embedded providers serving ZONE, pushed by `dnssync apply`."""
    root = tmp_path / "repo"
    ports = write_repo(root, {f"{ZONE}yaml": RECORDS}, ["one", "two"])
    with Fleet.for_config(load_settings(root), tmp_path / "data") as fleet:
        result = run(root, "apply", "--yes")
        assert result.exit_code == 0, result.output
        yield root, ports, fleet


def test_apply_creates_the_zone_and_plan_reads_it_back(pushed):
    root, ports, _ = pushed
    assert run(root, "plan", "--detailed-exitcode").exit_code == 0
    for port in ports.values():
        response = ask(port, f"mail.{ZONE}")
        assert response.flags & dns.flags.AA
        assert values(response) == {"192.0.2.25"}
        ns = values(ask(port, ZONE, "NS"), "NS")
        assert ns == {"ns1.one.example.", "ns1.two.example."}  # the union, managed by dnssync
    soa = ask(ports["one"], ZONE, "SOA").answer[0][0]
    assert str(soa.mname) == "ns1.one.example."
    assert soa.serial > 1  # every update bumps it


def test_edit_then_apply_updates_and_deletes(pushed):
    root, ports, _ = pushed
    (root / "zones" / f"{ZONE}yaml").write_text(
        "mail:\n  ttl: 120\n  type: A\n  values: [192.0.2.26, 192.0.2.27]\n")
    result = run(root, "apply", "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    for port in ports.values():
        answer = ask(port, f"mail.{ZONE}").answer[0]
        assert answer.ttl == 120 and {r.to_text() for r in answer} == {"192.0.2.26", "192.0.2.27"}
        assert ask(port, f"big.{ZONE}", "TXT").rcode() == dns.rcode.NXDOMAIN
        assert ask(port, ZONE, "MX").answer == []
    assert run(root, "plan", "--detailed-exitcode").exit_code == 0


def test_outage_fails_apply_there_others_applied_then_converges(pushed):
    root, ports, fleet = pushed
    fleet.servers["two"].stop()
    (root / "zones" / f"{ZONE}yaml").write_text(RECORDS.replace("192.0.2.25", "192.0.2.99"))
    result = run(root, "apply", "--yes", "--format", "json")
    assert result.exit_code == 1
    outcomes = {o["provider"]: o for o in json.loads(result.stdout)["apply"]["outcomes"]}
    assert outcomes["one"]["status"] == "applied"
    assert outcomes["two"]["status"] == "failed"
    assert outcomes["two"]["attempts"] == 2  # retried once (defaults.retries) before giving up
    assert "connection refused: is the server at" in outcomes["two"]["error"]
    assert values(ask(ports["one"], f"mail.{ZONE}")) == {"192.0.2.99"}
    with pytest.raises(dns.exception.Timeout):
        ask(ports["two"], f"mail.{ZONE}", timeout=0.3)
    fleet.servers["two"].start()  # comes back with the zone it had (kept on disk)
    assert values(ask(ports["two"], f"mail.{ZONE}")) == {"192.0.2.25"}
    assert run(root, "apply", "--yes").exit_code == 0
    assert values(ask(ports["two"], f"mail.{ZONE}")) == {"192.0.2.99"}


def test_large_answer_truncated_over_udp_whole_over_tcp(pushed):
    _, ports, _ = pushed
    port = ports["one"]
    plain = ask(port, f"big.{ZONE}", "TXT")  # no EDNS: 512 bytes at most
    assert plain.flags & dns.flags.TC
    edns = ask(port, f"big.{ZONE}", "TXT", use_edns=0, payload=4096)  # capped at 1232
    assert edns.flags & dns.flags.TC and len(edns.to_wire()) <= 1232
    tcp = ask(port, f"big.{ZONE}", "TXT", tcp=True)
    assert not tcp.flags & dns.flags.TC and len(tcp.answer[0]) == 8
    small = ask(port, f"mail.{ZONE}", use_edns=0, payload=4096)
    assert not small.flags & dns.flags.TC


def test_protocol_edges(pushed):
    _, ports, _ = pushed
    port = ports["one"]
    assert ask(port, "www.not-served.example.").rcode() == dns.rcode.REFUSED
    chaos = dns.message.make_query("hostname.bind.", "TXT", "CH")
    assert dns.query.udp(chaos, "127.0.0.1", port=port, timeout=2).rcode() == dns.rcode.REFUSED
    # its software and version, as BIND, Knot and PowerDNS answer it (how a plan knows the server)
    version = dns.query.udp(dns.message.make_query("version.bind.", "TXT", "CH"), "127.0.0.1", port=port, timeout=2)
    assert [r.to_text() for r in version.answer[0]] == [f'"dnssync-embedded {dnssync.__version__}"']
    future = dns.message.make_query(f"mail.{ZONE}", "A", use_edns=1)
    assert dns.query.udp(future, "127.0.0.1", port=port, timeout=2).rcode() == dns.rcode.BADVERS
    notify = dns.message.make_query(ZONE, "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.query.udp(notify, "127.0.0.1", port=port, timeout=2).rcode() == dns.rcode.NOTIMP
    axfr = dns.message.make_query(ZONE, "AXFR")
    assert dns.query.udp(axfr, "127.0.0.1", port=port, timeout=2).rcode() == dns.rcode.REFUSED
    with pytest.raises(dns.xfr.TransferError) as refused:
        dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "other.test.", port=port, timeout=2))
    assert refused.value.rcode == dns.rcode.NOTAUTH


def test_rfc2136_rules(pushed):
    _, ports, _ = pushed
    port = ports["one"]

    def send(update: dns.update.UpdateMessage) -> int:
        return dns.query.tcp(update, "127.0.0.1", port=port, timeout=2).rcode()

    exists = dns.update.UpdateMessage(ZONE)
    exists.present(f"nothing.{ZONE}", "A")
    assert send(exists) == dns.rcode.NXRRSET
    absent = dns.update.UpdateMessage(ZONE)
    absent.absent(f"mail.{ZONE}")
    assert send(absent) == dns.rcode.YXDOMAIN
    outside = dns.update.UpdateMessage(ZONE)
    outside.add("www.elsewhere.example.", 60, "A", "192.0.2.1")
    assert send(outside) == dns.rcode.NOTZONE
    apex = dns.update.UpdateMessage(ZONE)
    apex.delete(ZONE, "NS")  # the whole apex NS: ignored
    apex.delete(ZONE, "NS", "ns1.one.example.")
    apex.delete(ZONE, "NS", "ns1.two.example.")  # the last value: kept
    apex.add(f"mail.{ZONE}", 60, "CNAME", f"other.{ZONE}")  # beside an A: ignored
    assert send(apex) == dns.rcode.NOERROR
    assert values(ask(port, ZONE, "NS"), "NS") == {"ns1.two.example."}
    assert values(ask(port, f"mail.{ZONE}")) == {"192.0.2.25"}


def test_large_zone_transfers_in_several_messages(tmp_path):
    with EmbeddedServer(data_dir=tmp_path) as server:
        for first in (0, 1500):
            update = dns.update.UpdateMessage("many.test.")
            for i in range(first, first + 1500):
                update.add(f"host{i}.many.test.", 300, "A", f"10.0.{i // 250}.{i % 250}")
            assert dns.query.tcp(update, "127.0.0.1", port=server.port, timeout=5).rcode() == 0
        messages = list(dns.query.xfr("127.0.0.1", "many.test.", port=server.port, timeout=5,
                                     relativize=False))
        assert len(messages) > 2
        zone = dns.zone.from_xfr(iter(messages), relativize=False)
        assert len([n for n in zone.nodes if str(n).startswith("host")]) == 3000
    restarted = EmbeddedServer(data_dir=tmp_path).start()  # the zone file was kept
    try:
        assert values(ask(restarted.port, "host2999.many.test.")) == {"10.0.11.249"}
    finally:
        restarted.stop()


def test_port_in_use_is_a_clear_error(pushed):
    _, ports, _ = pushed
    with pytest.raises(ServerError, match=r"cannot listen on 127\.0\.0\.1:.*in use"):
        EmbeddedServer("127.0.0.1", ports["one"]).start()


def test_a_udp_port_in_use_frees_the_tcp_port_it_took():
    """The server binds TCP first: when UDP then fails, the TCP socket is closed again, so
    the port is free for whoever retries (an error path, not dead code)."""
    def tcp_bind(port: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            # a port left in TIME_WAIT by another test's connection is no listener
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("127.0.0.1", port))

    with contextlib.ExitStack() as stack:
        while True:  # a UDP port whose TCP twin is free, as a server's is before it starts
            udp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp_bind(port)
                break
            except OSError:
                continue
        with pytest.raises(ServerError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            EmbeddedServer("127.0.0.1", port).start()
        tcp_bind(port)  # raises if the server had kept it


def test_stop_is_prompt(tmp_path):
    server = EmbeddedServer().start()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert not server.running


def test_an_ipv6_nameserver_mismatch_gives_advice_that_parses():
    """The advice printed `address: ::1:5300`, which reads back as the IPv6 address
    ::1:5300 on port 53; now it is `[::1]:5300`, as parse_address reads it."""
    provider = ProviderConfig("six", "dnssync.embedded.provider.EmbeddedProvider", {"host": "::1", "port": 5300},
                              [Nameserver("ns1.six.", "::1", 5301)], None, "providers/six.yaml")
    with pytest.raises(UsageError) as error:
        server_for(provider, None)
    assert "has [::1]:5301, but its server listens at [::1]:5300" in str(error.value)
    advice = str(error.value).split("'address: ")[1].rstrip("'")
    assert parse_address(advice) == ("::1", 5300)
