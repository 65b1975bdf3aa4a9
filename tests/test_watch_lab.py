"""`dnssync watch` and `apply --wait` against the lab's real servers and a real Unbound.

The lab zones' SOA keeps the negative TTL at 5 s and the records here have TTL 5 s,
so a cache turns over in seconds. Unbound is primed before the apply, so it holds
the old answer (or the NXDOMAIN) when the watch begins."""

from __future__ import annotations

import json

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

from tests.conftest import unique_zone

#: a poll round (queries on loopback, one more second of rounding) may end this late
ROUND = 0.5


def resolve(lab, name: str, rtype: str = "A") -> dns.message.Message:
    """Ask the lab's Unbound (caching the answer there)."""
    return dns.query.udp(dns.message.make_query(name, rtype), lab.unbound.address, timeout=5)


def events_of(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def first(events: list[dict], **match) -> tuple[int, dict]:
    for index, event in enumerate(events):
        if all(event.get(k) == v for k, v in match.items()):
            return index, event
    raise AssertionError(f"no event {match} in {json.dumps(events, indent=1)}")


def test_update_new_name_and_delete_propagate_no_later_than_the_ttls_allow(make_repo, lab):
    zone = unique_zone("watch")
    repo = make_repo({zone: "gone:\n  ttl: 5\n  type: A\n  value: 192.0.2.9\n"
                            "www:\n  ttl: 5\n  type: A\n  value: 192.0.2.1\n"},
                     config={"resolvers": [lab.resolver]})
    assert repo.run("apply", "--yes").exit_code == 0
    # Unbound caches the old answers, and that `fresh` does not exist
    assert [r.to_text() for r in resolve(lab, f"www.{zone}").answer[0]] == ["192.0.2.1"]
    assert resolve(lab, f"gone.{zone}").answer
    assert resolve(lab, f"fresh.{zone}").rcode() == dns.rcode.NXDOMAIN
    repo.zone_file(zone).write_text("fresh:\n  ttl: 5\n  type: A\n  value: 192.0.2.7\n"
                                    "www:\n  ttl: 5\n  type: A\n  value: 192.0.2.2\n")
    result = repo.run("apply", "--yes", "--wait", "--deadline", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    events = events_of(result.stdout)
    assert events[0]["event"] == "apply" and events[1]["event"] == "start"
    assert {c["name"]: c["action"] for c in events[1]["changes"]} == {
        f"fresh.{zone}": "create", f"gone.{zone}": "delete", f"www.{zone}": "update"}
    authoritative, _ = first(events, event="authoritative")
    for provider in lab.servers:
        _, converged = first(events, event="provider", provider=provider, done=True)
        assert (converged["converged"], converged["total"]) == (1, 1)
    expected = {"www": (["192.0.2.1"], "old TTL 5 s"), "gone": (["192.0.2.9"], "old TTL 5 s"),
                "fresh": (None, "negative TTL 5 s")}
    for label, (old_values, basis) in expected.items():
        name = f"{label}.{zone}"
        _, converged = first(events, event="converged", name=name)
        assert converged["basis"] == basis
        cached_until = converged["t"] + 5 + 1  # the TTL, and a second of cache clock rounding
        # the watch reports authoritative convergence first, then Unbound's cached old answer
        index, old = first(events, event="resolver", name=name, state="old")
        assert index > authoritative
        if old_values is None:
            assert old["rcode"] == "NXDOMAIN"
        else:
            assert old["values"] == old_values and 0 <= old["ttl"] <= 5
        # ... then the new answer, no later than the old TTL allows
        _, new = first(events, event="resolver", name=name, state="new")
        assert old["t"] <= new["t"] <= cached_until + ROUND, (old, new, converged)
        if label == "gone":
            assert new["rcode"] == "NXDOMAIN"
    done = events[-1]
    assert done["event"] == "done" and done["outcome"] == "propagated" and done["exit_code"] == 0
    assert not [e for e in events if e["event"] == "finding"]


def applied_change(make_repo) -> tuple:
    """A zone pushed, then www changed and applied again: the apply `watch` follows."""
    zone = unique_zone("watch")
    repo = make_repo({zone: "www:\n  ttl: 5\n  type: A\n  value: 192.0.2.1\n"})
    assert repo.run("apply", "--yes").exit_code == 0
    repo.zone_file(zone).write_text("www:\n  ttl: 5\n  type: A\n  value: 192.0.2.2\n")
    assert repo.run("apply", "--yes").exit_code == 0
    return repo, zone


def test_stopped_nameserver_times_out_naming_it(make_repo, lab):
    repo, zone = applied_change(make_repo)
    with lab.stopped("knot"):
        result = repo.run("watch", "--deadline", "2")  # the apply above, from its record
    assert result.exit_code == 1, result.output
    knot = f"ns1.knot.lab ({lab.knot.address})"
    assert (f"not propagated within 2.0 s: knot: 0 of 1 nameserver(s) converged; {knot}: www.{zone}"
            " A no usable answer (unreachable: nothing listens there") in result.output
    assert f"watch.lagging: {knot} (knot) does not serve the new www.{zone} A" in result.output
    assert "bind: 1 of 1 nameserver(s) serve every change" in result.output


def test_value_changed_outside_dnssync_fails_within_three_polls(make_repo, lab):
    repo, zone = applied_change(make_repo)
    bind = lab.bind
    update = dns.update.UpdateMessage(zone, keyring=dns.tsigkeyring.from_text(
        {bind.key_name: bind.key_secret}), keyalgorithm="hmac-sha256")
    update.replace(f"www.{zone}", 5, "A", "198.51.100.66")
    assert dns.query.tcp(update, bind.address, timeout=5).rcode() == dns.rcode.NOERROR
    result = repo.run("watch", "--deadline", "20", "--format", "json")
    assert result.exit_code == 1, result.output
    events = events_of(result.stdout)
    _, finding = first(events, event="finding", code="watch.unexpected-value")
    assert finding["nameserver"] == f"ns1.bind.lab ({bind.address})"
    assert (finding["expected"], finding["observed"]) == ("5 192.0.2.2", "5 198.51.100.66")
    assert events[-1]["outcome"] == "unexpected" and events[-1]["t"] < 5


def test_watch_refuses_unknown_apply_and_bad_resolver(make_repo, lab):
    zone = unique_zone("watch")
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    result = repo.run("watch")
    assert result.exit_code == 2 and "nothing to watch: no apply has been made" in result.output
    repo = make_repo({unique_zone("watch"): "{}\n"}, config={"resolvers": ["127.0.0.1:99999"]})
    result = repo.run("watch")
    assert result.exit_code == 2
    assert "dnssync.yaml" in result.output and "resolver '127.0.0.1:99999'" in result.output


def test_apply_wait_does_not_wait_when_the_apply_failed(make_repo, lab):
    zone = unique_zone("watch")
    repo = make_repo({zone: "www:\n  ttl: 5\n  type: A\n  value: 192.0.2.1\n"})
    with lab.stopped("knot"):
        result = repo.run("apply", "--yes", "--wait", "--deadline", "30")
    assert result.exit_code == 1, result.output
    assert "Apply FAILED at knot" in result.output
    assert "Not waiting for propagation: the apply failed." in result.output
    assert "Watching apply" not in result.output


def name_valued(version: int, zone: str, address: str) -> str:
    """A zone whose every record of every name-valued type the lab servers hold (and a
    TXT, SSHFP and TLSA) changes value between version 1 and 2. The names are in the zone
    itself, as most are (a name relativised to the zone is where watch went wrong).
    ALIAS-flattened is not here: how watch follows a flattened ALIAS is being built on its own."""
    v = version
    hex_ = str(v) * 64
    return (f"'':\n  - ttl: 5\n    type: CAA\n    value: {{flags: 0, tag: issue, value: ca{v}.example.net}}\n"
            f"  - ttl: 5\n    type: MX\n    value: {{exchange: mx{v}.{zone}, preference: 10}}\n"
            f"  - ttl: 5\n    type: NAPTR\n    value: {{flags: S, order: 10, preference: 100, regexp: '',"
            f" replacement: _sip._udp.sip{v}.{zone}, service: SIP+D2U}}\n"
            f"  - ttl: 5\n    type: TXT\n    value: v=spf{v} -all\n"
            f"_443._tcp:\n  ttl: 5\n  type: TLSA\n  value: {{certificate_association_data: '{hex_}',"
            f" certificate_usage: 3, matching_type: 1, selector: 1}}\n"
            f"_sip._tcp:\n  ttl: 5\n  type: SRV\n  value: {{port: 5060, priority: 10,"
            f" target: sip{v}.{zone}, weight: 20}}\n"
            f"cname:\n  ttl: 5\n  type: CNAME\n  value: web{v}.{zone}\n"
            # addresses for BIND's check-integrity; a lab server's, so Unbound fails fast on `sub`
            + "".join(f"{host}:\n  ttl: 5\n  type: A\n  value: {address}\n" for host in ("mx1", "mx2", "ns1", "ns2"))
            + f"ptr:\n  ttl: 5\n  type: PTR\n  value: host{v}.{zone}\n"
            f"ssh:\n  ttl: 5\n  type: SSHFP\n  value: {{algorithm: 4, fingerprint: '{hex_}', fingerprint_type: 2}}\n"
            f"sub:\n  ttl: 5\n  type: NS\n  value: ns{v}.{zone}\n")


NAME_VALUED = {"cname": "CNAME", "": "MX", "_sip._tcp": "SRV", "sub": "NS", "ptr": "PTR", "ssh": "SSHFP",
               "_443._tcp": "TLSA"}


def test_name_valued_changes_propagate_through_every_server_and_unbound(make_repo, lab):
    """Every type whose value is (or holds) a name: CNAME, MX, SRV, NS, PTR, NAPTR, plus
    CAA, TXT, SSHFP and TLSA. Watch once compared the plan's values relativised to the
    zone with the absolute names on the wire and called the new value unexpected."""
    zone = unique_zone("names")
    repo = make_repo({zone: name_valued(1, zone, lab.pdns.address)}, config={"resolvers": [lab.resolver]})
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    types = [*NAME_VALUED.items(), ("", "CAA"), ("", "TXT"), ("", "NAPTR")]
    for name, rtype in types:  # Unbound caches every old answer
        resolve(lab, f"{name}.{zone}" if name else zone, rtype)
    repo.zone_file(zone).write_text(name_valued(2, zone, lab.pdns.address))
    result = repo.run("apply", "--yes", "--force", "--wait", "--deadline", "30", "--format", "json")
    assert result.exit_code == 0, result.output
    events = events_of(result.stdout)
    assert not [e for e in events if e["event"] == "finding"], result.output
    changed = {(c["name"], c["type"]) for c in events[1]["changes"]}
    assert changed == {(f"{n}.{zone}" if n else zone, t) for n, t in types}
    for name, rtype in types:
        fqdn = f"{name}.{zone}" if name else zone
        first(events, event="converged", name=fqdn, type=rtype)  # every nameserver serves it
        if rtype == "NS":  # a delegation to servers that do not exist: Unbound cannot follow it
            continue
        _, new = first(events, event="resolver", name=fqdn, type=rtype, state="new")
        assert any("2" in value for value in new["values"]), new
    assert events[-1]["outcome"] == "propagated"
