"""Faults on a running embedded nameserver: each one observable over DNS exactly as
described, settable in-process and over the control channel (`dnssync fault` talking
to `dnssync serve`), and gone after `clear`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import pytest

from dnssync.embedded import control
from dnssync.embedded.faults import FaultError, Faults
from dnssync.embedded.fleet import Fleet
from dnssync.repo.repository import load_settings
from tests.conftest import ROOT
from tests.embedded_repo import ask, copy_example_repo, run, values, write_repo

ZONE = "faults.test."
RECORDS = "www:\n  type: A\n  value: 192.0.2.1\n"


@pytest.fixture
def server(tmp_path):
    """One embedded provider serving ZONE (www A 192.0.2.1), pushed by dnssync; yields
    (repo root, server)."""
    root = tmp_path / "repo"
    write_repo(root, {f"{ZONE}yaml": RECORDS}, ["solo"])
    with Fleet.for_config(load_settings(root), tmp_path / "data", control=True) as fleet:
        assert run(root, "apply", "--yes").exit_code == 0
        yield root, fleet.servers["solo"]


def www(server, **options):
    return ask(server.port, f"www.{ZONE}", **options)


def test_drop_every_query_then_clear(server):
    _, srv = server
    srv.set_faults(drop=1.0)
    before = srv.queries
    with pytest.raises(dns.exception.Timeout):
        www(srv, timeout=0.3)
    assert srv.queries == before + 1  # it arrived, and was dropped
    srv.clear_faults()
    assert values(www(srv)) == {"192.0.2.1"}


def test_a_partial_drop_loses_datagrams_never_tcp_questions(server):
    """As on a lossy path: some UDP questions go unanswered, every TCP one is answered."""
    _, srv = server
    srv.set_faults(drop=0.5)
    lost = 0
    for _ in range(40):
        try:
            www(srv, timeout=0.2)
        except dns.exception.Timeout:
            lost += 1
        assert values(www(srv, tcp=True)) == {"192.0.2.1"}
    assert 0 < lost < 40


def test_delay(server):
    _, srv = server
    srv.set_faults(delay=0.4)
    started = time.monotonic()
    assert values(www(srv)) == {"192.0.2.1"}
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize("rcode", ["SERVFAIL", "REFUSED"])
def test_rcode(server, rcode):
    _, srv = server
    srv.set_faults(rcode=rcode.lower())
    response = www(srv)
    assert response.rcode() == dns.rcode.from_text(rcode)
    assert response.answer == []


def test_stale_keeps_answering_old_data_while_updates_succeed(server):
    root, srv = server
    srv.set_faults(stale=True)
    (root / "zones" / f"{ZONE}yaml").write_text(RECORDS.replace("192.0.2.1", "192.0.2.2"))
    assert run(root, "apply", "--yes").exit_code == 0  # the API accepted it...
    assert run(root, "plan", "--detailed-exitcode").exit_code == 0  # ...and AXFR shows it
    assert values(www(srv)) == {"192.0.2.1"}  # but the nameserver answers the old value
    srv.set_faults(stale=False)
    assert values(www(srv)) == {"192.0.2.2"}


def test_lie_about_one_record(server):
    _, srv = server
    soa_before = ask(srv.port, ZONE, "SOA").answer
    srv.set_faults(lie={"name": f"www.{ZONE}", "type": "A", "values": ["203.0.113.66"]})
    response = www(srv)
    assert values(response) == {"203.0.113.66"}
    assert response.answer[0].ttl == 3600  # the true record's TTL: only the value lies
    assert response.flags & dns.flags.AA
    assert ask(srv.port, ZONE, "SOA").answer == soa_before  # nothing else changed
    srv.set_faults(lie={"name": f"new.{ZONE}", "type": "TXT", "values": ['"invented"']})
    assert values(ask(srv.port, f"new.{ZONE}", "TXT"), "TXT") == {'"invented"'}
    assert values(www(srv)) == {"192.0.2.1"}
    srv.set_faults(lie={"name": f"www.{ZONE}", "type": "A", "values": []})  # deny it exists
    assert www(srv).rcode() == dns.rcode.NXDOMAIN


def test_truncate_forces_tcp(server):
    _, srv = server
    srv.set_faults(truncate=True)
    assert www(srv).flags & dns.flags.TC
    response, used_tcp = dns.query.udp_with_fallback(
        dns.message.make_query(f"www.{ZONE}", "A"), "127.0.0.1", port=srv.port, timeout=2)
    assert used_tcp and values(response) == {"192.0.2.1"}


def test_lame_answers_without_aa(server):
    _, srv = server
    srv.set_faults(lame=True)
    response = www(srv)
    assert values(response) == {"192.0.2.1"} and not response.flags & dns.flags.AA


def test_down_is_an_outage_for_queries_and_apply(server):
    root, srv = server
    srv.set_faults(down=True)
    with pytest.raises(dns.exception.Timeout):
        www(srv, timeout=0.3)
    with pytest.raises(ConnectionRefusedError):
        www(srv, tcp=True)
    (root / "zones" / f"{ZONE}yaml").write_text(RECORDS.replace("192.0.2.1", "192.0.2.3"))
    assert run(root, "apply", "--yes").exit_code == 1
    srv.set_faults(down=False)
    assert values(www(srv)) == {"192.0.2.1"}
    assert run(root, "apply", "--yes").exit_code == 0
    assert values(www(srv)) == {"192.0.2.3"}


def test_restart_comes_back_healthy(server):
    _, srv = server
    srv.set_faults(rcode="SERVFAIL", stale=True)
    srv.stop()
    srv.start()
    assert srv.faults.healthy and values(www(srv)) == {"192.0.2.1"}


def test_control_channel(server, tmp_path):
    _, srv = server
    path = srv.control_path
    reply = control.request(path, {"op": "set", "faults": {"rcode": "REFUSED", "delay": 0.1}})
    assert reply["describe"] == "delays answers 0.1s; answers REFUSED"
    assert reply["zones"] == {ZONE: srv.zones[dns.name.from_text(ZONE)].serial}
    assert www(srv).rcode() == dns.rcode.REFUSED
    assert control.request(path, {"op": "get"})["faults"]["rcode"] == "REFUSED"
    assert control.request(path, {"op": "clear"})["describe"] == "healthy"
    assert www(srv).rcode() == dns.rcode.NOERROR
    for bad, message in (({"op": "set", "faults": {"drop": 2}}, "drop is a share"),
                         ({"op": "set", "faults": {"nonsense": 1}}, "unknown fault nonsense"),
                         ({"op": "set", "faults": {"rcode": "NOPE"}}, "unknown rcode"),
                         ({"op": "reboot"}, "unknown op")):
        with pytest.raises(control.ControlError, match=message):
            control.request(path, bad)
    with pytest.raises(control.ControlError, match="no embedded server is listening"):
        control.request(tmp_path / "nothing.sock", {"op": "get"})


def test_faults_validate():
    with pytest.raises(FaultError, match="lie"):
        Faults.from_dict({"lie": {"name": "www.example.", "type": "A", "values": ["not-an-ip"]}})
    with pytest.raises(FaultError, match="delay"):
        Faults(delay=-1)
    assert Faults().changed(stale=True).changed(stale=False).healthy


def test_serve_and_fault_commands(tmp_path):
    """`dnssync serve` in its own process, broken by `dnssync fault`, stopped by SIGTERM."""
    root = tmp_path / "r"
    ports = copy_example_repo(root)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(root), "serve"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        lines = []
        while not any("Serving" in line for line in lines):
            line = serve.stdout.readline()
            assert line, "serve exited: " + "".join(lines)
            lines.append(line)
        assert all(f"127.0.0.1:{port}" in "".join(lines) for port in ports.values())
        assert run(root, "apply", "--yes").exit_code == 0
        result = run(root, "fault", "bravo", "--lie", "www.example.com.", "CNAME", "evil.example.")
        assert result.exit_code == 0, result.output
        assert "bravo: lies about www.example.com. CNAME (evil.example.)" in result.output
        bravo = ask(ports["bravo"], "www.example.com.", "CNAME")
        assert values(bravo, "CNAME") == {"evil.example."}
        assert values(ask(ports["alpha"], "www.example.com.", "CNAME"), "CNAME") == {"example.com."}
        shown = run(root, "fault", "bravo")
        assert "lies about www.example.com." in shown.output
        assert "example.com (serial" in shown.output
        assert "bravo: healthy" in run(root, "fault", "bravo", "--clear").output
        unknown = run(root, "fault", "nosuch", "--stale")
        assert unknown.exit_code == 2 and "no embedded provider named nosuch" in unknown.output
    finally:
        serve.send_signal(signal.SIGTERM)
        out, _ = serve.communicate(timeout=15)
    assert serve.returncode == 0, out
    assert "Stopped 3 embedded nameserver(s)" in out
    stopped = run(root, "fault", "bravo", "--stale")
    assert stopped.exit_code == 1 and "is `dnssync serve` running?" in stopped.output


def test_control_reports_a_server_that_cannot_come_back_up(server):
    """`fault --up` while another process holds the address: the client is told why,
    the server stays down and keeps its control channel, and comes up once it can."""
    import socket

    _, srv = server
    path = srv.control_path
    control.request(path, {"op": "set", "faults": {"down": True}})
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", srv.port))
    try:
        with pytest.raises(control.ControlError, match=f"cannot listen on 127.0.0.1:{srv.port}"):
            control.request(path, {"op": "set", "faults": {"down": False}})
        assert control.request(path, {"op": "get"})["faults"]["down"] is True
    finally:
        squatter.close()
    assert control.request(path, {"op": "set", "faults": {"down": False}})["describe"] == "healthy"
    assert values(www(srv)) == {"192.0.2.1"}
