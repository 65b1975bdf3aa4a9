"""octodns-powerdns against real PowerDNS with a large zone: the bug shown, and fixed."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest
import requests
import yaml
from octodns.record import Record
from octodns.zone import Zone
from octodns_powerdns import PowerDnsProvider as OctodnsPowerDnsProvider

from dnssync.model.sameness import rrsets_of
from dnssync.planning.planner import plan_one
from dnssync.providers.powerdns import PowerDnsProvider, chunks
from tests.conftest import unique_zone
from tests.lab.zonegen import long_txt_zone

# 2,500 TXT records of 1,000 octets: a request of about 2.7 MB, over PowerDNS's default
# webserver-max-bodysize of 2 MB
BIG = yaml.safe_load(long_txt_zone(2500, 1000))


def desired(name: str) -> Zone:
    zone = Zone(name, [])
    for record_name, item in BIG.items():
        zone.add_record(Record.new(zone, record_name, item))
    zone.add_record(Record.new(zone, "", {"type": "NS", "ttl": 3600, "values": ["ns1.pdns.lab."]}))
    return zone


def test_a_large_zone_cannot_be_pushed_with_octodns_powerdns_but_can_with_dnssync(lab):
    zone = unique_zone("pbig")
    lab.add_zone(zone, ["pdns"])
    original = OctodnsPowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    with pytest.raises(requests.HTTPError, match="400"):
        original.apply(original.plan(desired(zone)))
    ours = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    ours.apply(ours.plan(desired(zone)))
    assert ours.plan(desired(zone)) is None  # all 2,500 records are there


def test_a_large_new_zone_is_created_then_filled(lab):
    zone = unique_zone("pnew")  # not created on the server: the provider creates it
    ours = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    plan = ours.plan(desired(zone))
    assert plan.exists is False
    ours.apply(plan)
    assert ours.plan(desired(zone)) is None


def _sent(provider, monkeypatch) -> list[tuple[str, str, int]]:
    """Every request `provider` sends to PowerDNS about a zone, as it goes: (method, path
    under the server, HTTP status), recorded off what it really sends."""
    sent = []
    real = provider._sess.request  # dnssync's provider: plainhttp.py's, the plugin's: requests'

    def request(method, url, *args, **kwargs):
        response = real(method, url, *args, **kwargs)
        path = url.split("/servers/localhost/", 1)[-1]
        if path.startswith("zones"):
            sent.append((method, path, response.status_code))
        return response

    monkeypatch.setattr(provider._sess, "request", request)
    return sent


def small(name: str) -> Zone:
    zone = Zone(name, [])
    for record_name, item in (("", {"type": "NS", "ttl": 3600, "values": ["ns1.pdns.lab."]}),
                              ("www", {"type": "A", "ttl": 300, "values": ["192.0.2.1", "192.0.2.2"]}),
                              ("txt", {"type": "TXT", "ttl": 300, "value": "hello"})):
        zone.add_record(Record.new(zone, record_name, item))
    return zone


def test_a_new_zone_is_created_without_the_patch_powerdns_would_refuse(lab, monkeypatch):
    """octodns-powerdns sends a new zone's changes as a PATCH, which PowerDNS refuses (no
    such zone), then creates the zone. dnssync's plan has just read that answer: only the
    POST is sent. Plan's quick read and octoDNS's populate share the zone's one GET."""
    theirs_zone, zone = unique_zone("pcreate"), unique_zone("pcreate")
    original = OctodnsPowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    theirs = _sent(original, monkeypatch)
    original.apply(original.plan(small(theirs_zone)))
    assert [(m, s) for m, _, s in theirs] == [("GET", 404), ("PATCH", 404), ("POST", 201)]

    ours = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    sent = _sent(ours, monkeypatch)
    live = plan_one("pdns", ours, small(zone), 1.0, 1.0, quick=True)
    assert live.octo is not None and live.octo.exists is False and len(live.octo.changes) == 3
    ours.apply(live.octo)
    assert sent == [("GET", f"zones/{zone}", 404), ("POST", "zones", 201)]
    assert ours.read_names(zone) == rrsets_of(small(zone).records, "pdns")


def test_a_zone_created_since_the_plan_read_it_missing_is_patched(lab, monkeypatch):
    """The zone appeared between plan and apply (someone else created it): PowerDNS refuses
    the POST (HTTP 409), and the PATCH that was not sent is sent. The apply still converges."""
    zone = unique_zone("prace")
    ours = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    plan = ours.plan(small(zone))
    assert plan.exists is False
    lab.add_zone(zone, ["pdns"])
    sent = _sent(ours, monkeypatch)
    ours.apply(plan)
    assert [(m, s) for m, _, s in sent] == [("POST", 409), ("PATCH", 204)]
    assert ours.plan(small(zone)) is None


def test_chunks_keep_order_and_size():
    rrsets = [{"name": f"n{i}.", "type": "TXT", "changetype": "DELETE" if i < 5 else "REPLACE",
               "records": [{"content": "x" * 500}]} for i in range(40)]
    parts = chunks(rrsets, 4000)
    assert [r for part in parts for r in part] == rrsets  # deletes still first, nothing lost
    assert len(parts) > 1 and all(len(str(part)) < 4000 for part in parts)


def test_chunks_split_exactly_where_the_whole_list_would_pass_the_limit():
    rrsets = [{"name": f"n{i}.", "type": "A", "records": [{"content": f"192.0.2.{i}"}]} for i in range(12)]
    whole = len(json.dumps(rrsets))
    assert chunks(rrsets, whole) == [rrsets]
    parts = chunks(rrsets, whole - 1)
    assert len(parts) == 2 and parts[0] + parts[1] == rrsets
    assert all(len(json.dumps(part)) <= whole - 1 for part in parts)
    assert chunks([], 10) == [[]]


def test_a_forked_child_does_not_share_the_parents_connections(lab):
    """A fleet is planned and applied by forked workers after the parent may have used the
    API (`nameservers: auto`): a child starts with no pooled connection of the parent's
    (two children sending on one keep-alive stream would read each other's answers), and
    the parent keeps its own."""
    ours = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    del ours._sess.request  # requests' own, with its pools, as over https, a proxy or with ~/.netrc
    ours.list_zones()
    pools = ours._sess.get_adapter(f"http://{lab.pdns.address}").poolmanager.pools
    assert len(pools) == 1
    pid = os.fork()
    if pid == 0:  # the child: its exit status says what it found
        os._exit(0 if len(ours._sess.get_adapter(f"http://{lab.pdns.address}").poolmanager.pools) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(pools) == 1
    ours.list_zones()  # the parent's connection still works


def test_proxy_settings_from_the_environment_are_honoured(lab, monkeypatch, tmp_path):
    """The provider reads the environment once (not per request, as requests does): what
    it reads is still honoured. A proxy that does not answer is used unless NO_PROXY
    names the server; a ~/.netrc entry for the server is sent."""
    def get(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, port=lab.pdns.api_port,
                                strict_supports=False)._get("")

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(requests.exceptions.ProxyError):
        get(HTTP_PROXY="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9")  # the discard port: nothing listens
    assert get(NO_PROXY=lab.pdns.address, no_proxy=lab.pdns.address).json()["type"] == "Server"
    (tmp_path / ".netrc").write_text(f"machine {lab.pdns.address} login someone password secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    response = get(NETRC=str(tmp_path / ".netrc"))
    assert response.request.headers["Authorization"].startswith("Basic ")


def test_plain_http_answers_as_requests_does(lab):
    """The provider's requests go out through plainhttp.py on the lab's plain-HTTP API;
    every answer reads as requests' would: a zone, PowerDNS's "no such zone" (HTTP 404
    and its error text), a change it refuses (HTTP 422 and its reason)."""
    zone = unique_zone("pplain")
    lab.add_zone(zone, ["pdns"])
    plain = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    assert "request" in vars(plain._sess)  # plainhttp.py's, in place of the session's method
    viarequests = PowerDnsProvider("pdns", lab.pdns.address, lab.pdns.api_key, strict_supports=False)
    del viarequests._sess.request

    def outcome(provider, method, path, data=None):
        try:
            response = provider._request(method, path, data)
        except requests.HTTPError as e:
            return type(e), e.response.status_code, provider._get_error(e), str(e)
        return response.status_code, response.headers["Content-Type"], response.content and response.json()

    refused = {"rrsets": [{"name": f"x.{zone}", "type": "MX", "ttl": 60, "changetype": "REPLACE",
                           "records": [{"content": "not an mx", "disabled": False}]}]}
    for method, path, data in (("GET", f"zones/{zone}", None), ("GET", "zones/nosuchzone.test.", None),
                               ("PATCH", f"zones/{zone}", refused), ("GET", "", None)):
        ours, theirs = outcome(plain, method, path, data), outcome(viarequests, method, path, data)
        assert ours == theirs, (method, path)
    assert outcome(plain, "GET", "zones/nosuchzone.test.")[1] == 404
    assert outcome(plain, "PATCH", f"zones/{zone}", refused)[1] == 422
    assert outcome(plain, "GET", f"zones/{zone}")[2]["name"] == zone


def test_plain_http_failures_are_requests_failures():
    """A server that is not there, one that never answers, one that hangs up: requests'
    exception types, judged transient, and described as requests' failures are."""
    from dnssync.providers.hints import describe_error, is_transient

    def provider(port: int, timeout: float = 0.5) -> PowerDnsProvider:
        return PowerDnsProvider("pdns", "127.0.0.1", "key", port=port, timeout=timeout, strict_supports=False)

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(requests.ConnectionError) as refused:
            provider(port)._get("")
    assert is_transient(refused.value)
    assert describe_error(refused.value).startswith(
        f"the provider at 127.0.0.1:{port}: connection refused: is the server at 127.0.0.1:{port} running?")

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts (the kernel does), never answers
        with pytest.raises(requests.exceptions.ReadTimeout) as waited:
            provider(silent.getsockname()[1], timeout=0.3)._get("")
    assert is_transient(waited.value)
    assert "timed out" in describe_error(waited.value)

    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()
        hang_up = threading.Thread(target=lambda: rude.accept()[0].close())
        hang_up.start()
        with pytest.raises(requests.ConnectionError) as cut:
            provider(rude.getsockname()[1])._get("")
        hang_up.join()
    assert is_transient(cut.value) and not isinstance(cut.value, requests.Timeout)
