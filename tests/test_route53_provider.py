"""dnssync's Route53 provider against moto's server (Route53's API over HTTP): each bug of
octodns-route53 that dnssync's subclass fixes, shown with the plugin itself, and the fix.
The plugin (octodns_route53.Route53Provider) takes no endpoint option; it is pointed at
moto with boto3's own AWS_ENDPOINT_URL_ROUTE_53, which dnssync's subclass honours too."""

from __future__ import annotations

import os
import re
import socket
import time
from itertools import count

import pytest
import yaml

pytest.importorskip("octodns_route53", reason="octodns-route53 and boto3 are in the [test] extra")
from botocore.exceptions import ClientError
from octodns.record import Record
from octodns.zone import Zone
from octodns_route53 import Route53Provider as PluginProvider

from dnssync.model import interrupt
from dnssync.providers.hints import is_transient, unreachable
from dnssync.providers.route53 import (
    Route53Error,
    Route53Provider,
    _forget_connections,
    paging_complete,
    requests_within_limits,
    together,
    weight,
)
from dnssync.repo.config import read_config
from tests.conftest import Repo
from tests.httpfault import FaultyProxy
from tests.lab.moto import CREDENTIALS
from tests.route53_repo import MOTO_NS, rrsets

_zones = count(1)
KEYS = {"access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"], "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "strict_supports": False}


def zone_name() -> str:
    return f"r53p{next(_zones)}.test."


def zone_of(name: str, records: dict[str, dict]) -> Zone:
    zone = Zone(name, [])
    for record_name, data in records.items():
        zone.add_record(Record.new(zone, record_name, data))
    return zone


def a_records(n: int, ttl: int = 60) -> dict[str, dict]:
    return {f"h{i}": {"type": "A", "ttl": ttl, "value": f"192.0.2.{i % 250 + 1}"} for i in range(n)}


def push(provider, zone: Zone) -> None:
    plan = provider.plan(zone)
    if plan:
        provider.apply(plan)


@pytest.fixture
def plugin(moto, monkeypatch):
    """octodns-route53's own provider, pointed at moto through boto3's environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", moto.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    def make() -> PluginProvider:
        provider = PluginProvider("plugin", **KEYS)
        # moto's answer lacks IsTruncated, which Route53 always sends (see paging_complete)
        provider._conn.meta.events.register("after-call.route53.ListHealthChecks", paging_complete)
        return provider

    return make


def ours(url: str, **options) -> Route53Provider:
    return Route53Provider("route53", endpoint_url=url, **{**KEYS, **options})


def change_requests(proxy: FaultyProxy) -> list[bytes]:
    return [body for method, path, body in proxy.bodies if method == "POST" and path.endswith("/rrset/")]


def request_weight(body: bytes) -> tuple[int, int]:
    """ResourceRecord elements and Value characters of one ChangeResourceRecordSets
    request as Route53 counts them (an UPSERT's twice), read from the XML sent."""
    records = chars = 0
    for change in re.findall(rb"<Change>(.*?)</Change>", body, re.S):
        factor = 2 if b"<Action>UPSERT</Action>" in change else 1
        values = re.findall(rb"<Value>(.*?)</Value>", change, re.S)
        records += len(values) * factor
        chars += sum(len(v.replace(b"&quot;", b'"')) for v in values) * factor
    return records, chars


def test_upserts_count_twice_the_plugin_is_refused_whole(moto, plugin):
    """Updating 600 records: the plugin counts an UPSERT once and sends 600 in one request
    (1,200 by Route53's count), which Route53 refuses whole; dnssync's go."""
    name = zone_name()
    push(plugin(), zone_of(name, a_records(600)))
    with pytest.raises(ClientError, match=r"InvalidChangeBatch.*limit of 1000"):
        push(plugin(), zone_of(name, a_records(600, ttl=120)))
    assert ours(moto.url).plan(zone_of(name, a_records(600, ttl=120))) is not None  # nothing changed
    with FaultyProxy(moto.url, lambda *_: None) as proxy:
        push(ours(f"http://127.0.0.1:{proxy.port}"), zone_of(name, a_records(600, ttl=120)))
    sent = [request_weight(b) for b in change_requests(proxy)]
    assert len(sent) >= 2 and all(records <= 1000 for records, _ in sent)
    assert ours(moto.url).plan(zone_of(name, a_records(600, ttl=120))) is None


def test_value_characters_stay_under_32000_per_request(moto, plugin, monkeypatch):
    """150 TXT records of 250 characters: 37,500 characters of Value. moto does not enforce
    Route53's 32,000 limit, so the requests are read at the proxy: the plugin's one request
    is over it, dnssync's are all within."""
    txt = {f"t{i}": {"type": "TXT", "ttl": 60, "value": f"{i:03d}" + "x" * 247} for i in range(150)}
    with FaultyProxy(moto.url, lambda *_: None) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", f"http://127.0.0.1:{proxy.port}")
        push(plugin(), zone_of(zone_name(), txt))
    plugin_sent = [request_weight(b) for b in change_requests(proxy)]
    with FaultyProxy(moto.url, lambda *_: None) as proxy:
        push(ours(f"http://127.0.0.1:{proxy.port}"), zone_of(zone_name(), txt))
    ours_sent = [request_weight(b) for b in change_requests(proxy)]
    assert max(chars for _, chars in plugin_sent) > 32000  # a request Route53 refuses
    assert len(ours_sent) >= 2 and all(chars <= 32000 for _, chars in ours_sent)
    assert sum(records for records, _ in ours_sent) >= 150


def test_a_rejected_rrset_is_named_and_the_rest_goes(moto, plugin):
    """A 600-value RRset can be created (600) but never UPSERTed (1,200 > 1,000): Route53
    rejects it with InvalidChangeBatch. The plugin loses every other change of the batch
    with it; dnssync's names it with Route53's message and applies the others."""
    big = {"type": "A", "ttl": 60, "values": [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(600)]}
    for provider_of in (plugin, lambda: ours(moto.url)):
        name = zone_name()
        push(provider_of(), zone_of(name, {"big": big, **a_records(3)}))
        changed = zone_of(name, {"big": {**big, "ttl": 120}, **a_records(3, ttl=120), "new": {
            "type": "A", "ttl": 60, "value": "192.0.2.99"}})
        provider = provider_of()
        with pytest.raises(Exception) as failed:
            push(provider, changed)
        held = rrsets(moto, name)
        if isinstance(provider, Route53Provider):
            assert isinstance(failed.value, Route53Error) and not is_transient(failed.value)
            assert failed.value.rejected == [(f"big.{name}", "A", "Number of records limit of 1000 exceeded.")]
            assert f"big.{name} A: Number of records limit of 1000 exceeded." in str(failed.value)
            assert held[(f"new.{name}", "A")] == {"192.0.2.99"}  # the rest went
            assert ours(moto.url).plan(changed).changes[0].record.name == "big"  # only big is pending
        else:
            assert (f"new.{name}", "A") not in held  # the plugin's whole batch was lost


def test_records_are_read_again_after_an_apply(moto, plugin):
    """The plugin caches a zone's records for the provider's life: a re-plan after an apply
    (a retry, "how much is still pending") sees the records from before it."""
    for provider, stale in ((plugin(), True), (ours(moto.url), False)):
        name = zone_name()
        push(provider, zone_of(name, a_records(2)))
        push(provider, zone_of(name, a_records(2, ttl=300)))
        again = provider.plan(zone_of(name, a_records(2, ttl=300)))
        assert (again is not None) is stale


def test_geo_is_not_claimed_so_plans_converge(moto, plugin):
    """The plugin claims octoDNS `geo` support but writes only the plain values, so a geo
    record is planned as an update forever; dnssync's serves the plain values, once."""
    geo = {"": {"type": "A", "ttl": 300, "values": ["192.0.2.1"], "geo": {"AF": ["192.0.2.2"]}}}
    for provider_of, converges in ((plugin, False), (lambda: ours(moto.url), True)):
        name = zone_name()
        push(provider_of(), zone_of(name, geo))
        assert (provider_of().plan(zone_of(name, geo)) is None) is converges


def test_throttling_is_retried_and_transient(moto):
    """Throttling (HTTP 400) and PriorRequestNotComplete from the proxy in front of moto:
    botocore retries with backoff; when its attempts run out the error is transient."""
    throttled = (b'<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                 b"<Error><Type>Sender</Type><Code>%s</Code><Message>Rate exceeded</Message></Error>"
                 b"<RequestId>1</RequestId></ErrorResponse>")

    def decide(method: str, path: str, seen: int):
        if method == "POST" and path.endswith("/rrset/") and seen < 2:
            return 400, throttled % (b"Throttling" if seen == 0 else b"PriorRequestNotComplete")
        return None

    name = zone_name()
    with FaultyProxy(moto.url, decide) as proxy:
        push(ours(f"http://127.0.0.1:{proxy.port}"), zone_of(name, a_records(3)))
    assert [s for m, p, s in proxy.log if p.endswith("/rrset/")] == [400, 400, 200]
    assert rrsets(moto, name)[(f"h0.{name}", "A")] == {"192.0.2.1"}

    with FaultyProxy(moto.url, lambda m, p, s: (400, throttled % b"Throttling") if p.endswith("/rrset/") else None
                     ) as proxy, pytest.raises(Route53Error) as failed:
        push(ours(f"http://127.0.0.1:{proxy.port}", client_max_attempts=1), zone_of(zone_name(), a_records(1)))
    assert is_transient(failed.value) and "Throttling: Rate exceeded (transient" in str(failed.value)


def test_limits_arithmetic():
    upsert = {"Action": "UPSERT", "ResourceRecordSet": {"ResourceRecords": [{"Value": "x" * 10}] * 3}}
    create = {"Action": "CREATE", "ResourceRecordSet": {"ResourceRecords": [{"Value": "x" * 10}] * 3}}
    alias = {"Action": "CREATE", "ResourceRecordSet": {"AliasTarget": {}}}
    assert weight(upsert) == (6, 60) and weight(create) == (3, 30) and weight(alias) == (0, 0)
    assert [len(b) for b in requests_within_limits([[upsert]] * 5, max_records=12)] == [2, 2, 1]
    assert [len(b) for b in requests_within_limits([[create]] * 5, max_chars=60)] == [2, 2, 1]
    assert [len(b) for b in requests_within_limits([[alias]] * 2500)] == [1000, 1000, 500]
    # a single group over a limit goes alone (Route53 then names it), never dropped
    assert [len(b) for b in requests_within_limits([[create], [upsert], [create]], max_records=5)] == [1, 1, 1]
    # a group is never cut: 3 changes at one name with a limit of 2 changes go together
    assert [sum(map(len, b)) for b in requests_within_limits([[create] * 3, [create]], max_changes=2)] == [3, 1]


def test_changes_of_one_name_and_one_dynamic_record_are_grouped():
    """A CNAME->A update (DELETE + CREATE) and a dynamic record's pool RRsets are one group."""
    def mod(action: str, name: str, rtype: str) -> dict:
        return {"Action": action, "ResourceRecordSet": {"Name": name, "Type": rtype, "TTL": 60,
                                                         "ResourceRecords": [{"Value": "x"}]}}
    mods = [mod("CREATE", "www.z.test.", "A"), mod("CREATE", "a.z.test.", "A"),
            mod("DELETE", "www.z.test.", "CNAME"), mod("CREATE", "_octodns-one-value.dyn.z.test.", "A"),
            mod("CREATE", "dyn.z.test.", "A")]
    grouped = [[(m["Action"], m["ResourceRecordSet"]["Name"]) for m in g] for g in together(mods)]
    assert [("DELETE", "www.z.test."), ("CREATE", "www.z.test.")] in grouped
    assert sorted(next(g for g in grouped if ("CREATE", "dyn.z.test.") in g)) == [
        ("CREATE", "_octodns-one-value.dyn.z.test."), ("CREATE", "dyn.z.test.")]
    assert len(grouped) == 3


def test_endpoint_from_boto3s_environment(moto, monkeypatch):
    """No endpoint_url: boto3's AWS_ENDPOINT_URL_ROUTE_53 points dnssync's provider too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", moto.url)
    provider = Route53Provider("route53", **KEYS)
    name = zone_name()
    push(provider, zone_of(name, a_records(1)))
    assert provider.zone_nameservers(name) == sorted(MOTO_NS)
    assert rrsets(moto, name)[(f"h0.{name}", "A")] == {"192.0.2.1"}


@pytest.mark.parametrize("silence", ["hung", "dropped"])
def test_a_silent_endpoint_is_given_up_after_the_timeout(silence):
    """An endpoint that takes the connection and never answers (a hung proxy: botocore's
    read timeout), or whose connections never complete (a firewall dropping packets: its
    connect timeout), fails after `timeout` a try, not botocore's 60 s: as a transient
    failure that opens the provider's breaker. Also after a fork dropped the pools."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0 if silence == "dropped" else 16)
    held = []
    if silence == "dropped":  # the one queued connection fills the backlog: the next SYN is dropped
        held.append(socket.create_connection(server.getsockname()))
    provider = ours(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.5, client_max_attempts=1)
    try:
        for fork in (False, True):
            if fork:
                _forget_connections(provider)  # what a forked worker does first
            started = time.monotonic()
            with pytest.raises(Route53Error) as failed:
                provider.list_zones()
            waited = time.monotonic() - started
            assert waited < 5, f"waited {waited:.1f} s: botocore's own 60 s, not the provider's 0.5 s"
            said = "Read timeout" if silence == "hung" else "Connect timeout"
            assert said in str(failed.value)
            assert unreachable(failed.value) and is_transient(failed.value)
    finally:
        for sock in (*held, server):
            sock.close()


@pytest.mark.parametrize(("nameservers", "message"), [
    ("automatic", "'nameservers' must be a list"),
    ({"auto": True, "address": "127.0.0.1:notaport"}, "nameserver address '127.0.0.1:notaport' is not host[:port]"),
    ({"auto": True, "where": "x"}, "where"),
    ({"auto": False}, "'nameservers' is a list of names, 'auto', or {auto: true, address: ...}"),
])
def test_nameservers_auto_config_errors(tmp_path, nameservers, message):
    (tmp_path / "providers").mkdir()
    (tmp_path / "zones").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (tmp_path / "providers" / "route53.yaml").write_text(yaml.safe_dump(
        {"class": "route53", "nameservers": nameservers}))
    _, findings = read_config(tmp_path)
    errors = [f for f in findings if f.severity == "error"]
    assert errors and message in errors[0].message, findings
    assert errors[0].file.endswith("route53.yaml") and errors[0].line


@pytest.mark.parametrize(("timeout", "message"), [
    ("0", "'timeout' must be a number of seconds above 0, not 0"),
    ("soon", "'timeout' must be a number of seconds above 0, not 'soon'"),
])
def test_a_timeout_that_is_no_number_of_seconds_is_a_config_error(tmp_path, timeout, message):
    (tmp_path / "providers").mkdir()
    (tmp_path / "zones").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\nproviders: providers\nparent: {check: false}\n")
    (tmp_path / "providers" / "route53.yaml").write_text(
        f"class: route53\nnameservers: [ns1.example.]\ntimeout: {timeout}\n")
    result = Repo(tmp_path, {**os.environ, **CREDENTIALS}).run("validate")
    assert result.exit_code == 2
    # at the line of the option, not of `class`
    assert "providers/route53.yaml:3: error config.provider-class" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_nameservers_auto_with_an_address(tmp_path):
    (tmp_path / "providers").mkdir()
    (tmp_path / "zones").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (tmp_path / "providers" / "route53.yaml").write_text(
        "class: route53\nnameservers: {auto: true, address: '127.0.0.1:5353'}\n")
    config, findings = read_config(tmp_path)
    assert not findings and config is not None
    route53 = config.providers["route53"]
    assert (route53.auto_nameservers, route53.auto_address, route53.nameservers) == (True, ("127.0.0.1", 5353), [])


def test_route53_alias_stays_native(moto):
    """`Route53Provider/ALIAS` is written as Route53's own alias (an AliasTarget, no TTL) and
    read back the same, so a second plan is clean. What the ALIAS flattening for the other
    providers needs from it: the record's values name the target (`name`, relative to the
    zone for a same-zone alias) and its `type`."""
    name = zone_name()
    zone = zone_of(name, {"": {"type": "Route53Provider/ALIAS", "ttl": 60, "values": [
        {"name": "www", "type": "A"}]}, "www": {"type": "A", "ttl": 60, "value": "192.0.2.7"}})
    provider = ours(moto.url)
    push(provider, zone)
    client = moto.client()
    zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == name)
    apex = [r for r in client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if r["Name"] == name and r["Type"] == "A"]
    assert [r["AliasTarget"]["DNSName"] for r in apex] == [f"www.{name}"] and "TTL" not in apex[0]
    live = Zone(name, [])
    ours(moto.url).populate(live)
    [alias] = [r for r in live.records if r._type == "Route53Provider/ALIAS"]
    assert [(v.name, v._type) for v in alias.values] == [("www", "A")]
    assert ours(moto.url).plan(zone) is None


def test_a_forked_child_does_not_share_the_parents_connections(moto):
    """dnssync plans in forked workers after `nameservers: auto` read Route53 in the parent:
    a child starts with no pooled connection (it opens its own), the parent keeps its."""
    provider = ours(moto.url)
    provider.list_zones()
    pools = provider._conn._endpoint.http_session._manager.pools
    assert len(pools) == 1
    pid = os.fork()
    if pid == 0:  # the child: exit status says what it found
        os._exit(0 if len(provider._conn._endpoint.http_session._manager.pools) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(pools) == 1
    provider.list_zones()  # the parent's connection still works


def test_a_rejected_create_never_leaves_its_name_deleted(moto):
    """CNAME->A at one name is a DELETE and a CREATE. With the CREATE rejected (1,001 values
    are over Route53's limit; the plugin's own check of that is raised with max_changes) they
    used to go in two requests: the CNAME was deleted and nothing replaced it. Now they go
    (and are rejected) together: the CNAME is still there."""
    name = zone_name()
    push(ours(moto.url), zone_of(name, {"www": {"type": "CNAME", "ttl": 60, "value": "target.example."}}))
    many = [f"10.{i // 250}.{i % 250}.1" for i in range(1001)]
    with pytest.raises(Route53Error) as failed:
        push(ours(moto.url, max_changes=2000), zone_of(name, {"www": {"type": "A", "ttl": 60, "values": many}}))
    assert (f"www.{name}", "A") in {(n, t) for n, t, _ in failed.value.rejected}
    held = rrsets(moto, name)
    assert held[(f"www.{name}", "CNAME")] == {"target.example."} and (f"www.{name}", "A") not in held


def _stop_at_first_change_request(method: str, path: str, seen: int):
    """The fault proxy's hook: Ctrl-C arrives while the first change request is sent."""
    if method == "POST" and path.endswith("/rrset/"):
        interrupt.STOP.set()


@pytest.mark.parametrize("case", ["between requests", "between bisect halves"])
def test_ctrl_c_stops_at_the_next_request(moto, case):
    """After Ctrl-C no further change request is sent: not the next request of a batch cut
    by the limits, nor the halves of a rejected request."""
    name = zone_name()
    records = a_records(3)
    if case == "between requests":
        options = {"max_value_chars": 12}  # one A value per request: three requests
    else:  # one request, rejected (one record was created out of band after the plan): halves follow
        options = {}
        push(ours(moto.url), zone_of(name, {"x": records["h0"]}))
    with FaultyProxy(moto.url, _stop_at_first_change_request) as proxy:
        provider = ours(f"http://127.0.0.1:{proxy.port}", **options)
        plan = provider.plan(zone_of(name, records))
        if case == "between bisect halves":  # the same CREATE, out of band: moto rejects ours
            create = plan.changes[-1].new
            client = moto.client()
            zone_id = next(z["Id"] for z in client.list_hosted_zones()["HostedZones"] if z["Name"] == name)
            client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
                "Action": "CREATE", "ResourceRecordSet": {"Name": create.fqdn, "Type": "A", "TTL": create.ttl,
                                                          "ResourceRecords": [{"Value": create.values[0]}]}}]})
        try:
            with pytest.raises(interrupt.Interrupted):
                provider.apply(plan)
        finally:
            interrupt.STOP.clear()
    assert len(change_requests(proxy)) == 1
