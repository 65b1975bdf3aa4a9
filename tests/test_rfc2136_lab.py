"""The RFC 2136 landmines, against real BIND and Knot: each octodns-bind bug shown, and fixed.

octodns-bind's own Rfc2136Provider is run on the same zone next to dnssync's
subclass, so a test fails if either the bug or the fix goes away.
"""

from __future__ import annotations

import json

import dns.exception
import pytest
from octodns.record import Record
from octodns.zone import Zone
from octodns_bind import Rfc2136Provider as OctodnsRfc2136Provider

from dnssync.providers.refused import Refused
from dnssync.providers.rfc2136 import BindProvider, KnotProvider, Rfc2136Error
from tests.conftest import unique_zone
from tests.lab.zonegen import big_zone_data, long_txt_zone
from tests.test_push_lab import ask
from tests.updaterelay import ServfailRelay


def desired_zone(name: str, data: dict) -> Zone:
    zone = Zone(name, [])
    for record_name, item in data.items():
        zone.add_record(Record.new(zone, record_name, dict(item)))
    zone.add_record(Record.new(zone, "", {"type": "NS", "ttl": 3600, "values": ["ns1.bind.lab."]}))
    return zone


def provider(cls, lab, server="bind", **options):
    s = lab.servers[server]
    return cls(f"test-{server}", s.address, key_name=s.key_name, key_secret=s.key_secret,
               key_algorithm="hmac-sha256", strict_supports=False, **options)


def test_10k_zone_with_mx_targets_sorting_later_pushes_to_bind(lab):
    zone = unique_zone("big")
    lab.add_zone(zone, ["bind"], ["ns1.bind.lab."])
    desired = desired_zone(zone, big_zone_data(10_000, zone))
    ours = provider(BindProvider, lab)
    plan = ours.plan(desired)
    assert len(plan.changes) == 10_000

    # the bug: octodns-bind sends name-sorted batches, so a-mx-* precede zz-host-*
    original = provider(OctodnsRfc2136Provider, lab)
    with pytest.raises(Exception, match="REFUSED"):
        original.apply(original.plan(desired))

    ours.apply(ours.plan(desired))
    assert ours.plan(desired) is None  # converged: every one of the 10,000 records is there


def test_batches_stay_under_the_64k_message_limit(lab):
    zone = unique_zone("txt")
    lab.add_zone(zone, ["knot"], ["ns1.knot.lab."])
    import yaml

    desired = desired_zone(zone, yaml.safe_load(long_txt_zone(600)))
    original = provider(OctodnsRfc2136Provider, lab, "knot")
    with pytest.raises(dns.exception.TooBig):  # the bug: 600 x ~290 bytes in one message
        original.apply(original.plan(desired))
    ours = provider(KnotProvider, lab, "knot")
    plan = ours.plan(desired)
    batches = ours._batches(ours._operations(plan.changes))
    assert len(batches) > 2
    assert all(len(ours._message(zone, batch).to_wire()) < 65535 for batch in batches)
    ours.apply(plan)
    assert ours.plan(desired) is None


def test_bind_check_integrity_mx_is_shown_not_refused(make_repo, lab):
    zone = unique_zone()
    mx = f"'':\n  type: MX\n  value:\n    exchange: nowhere.{zone}\n    preference: 10\n"
    repo = make_repo({zone: mx}, config={"policy": {"parity": "warn"}})
    plan = json.loads(repo.run("plan", "--format", "json").stdout)
    bind = next(p for p in plan["providers"] if p["provider"] == "bind")
    assert [a["type"] for a in bind["adjustments"]] == ["MX"]
    assert "check-integrity" in bind["adjustments"][0]["reason"]
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_update_refused_mid_run_names_the_refused_change_and_applies_the_rest(make_repo, lab):
    """BIND refuses message 3 of 3 for its MX (check-integrity, the rule switched off in
    dnssync so that nothing predicts it): the message is split, its A records applied,
    and exactly the MX is reported, with BIND's answer, once (REFUSED is not retried)."""
    zone = unique_zone()
    records = "".join(f"h{i}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(1, 9))
    records += f"mx:\n  type: MX\n  value:\n    exchange: nowhere.{zone}\n    preference: 10\n"
    repo = make_repo({zone: records}, providers=["bind"],
                     provider_extra={"bind": {"check_integrity": False, "update_batch_size": 4}})
    result = repo.run("apply", "--yes")
    assert result.exit_code == 1, result.output
    assert "PARTIALLY APPLIED: 1 of 9 change(s) still pending" in result.output
    assert "re-run apply" not in result.output  # the same data is refused the same way
    record = next((repo.root / ".dnssync" / "applies").glob("*.json"))
    outcome = json.loads(record.read_text())["outcomes"][0]
    assert outcome["status"] == "failed" and outcome["retryable"] is False
    assert outcome["attempts"] == 1  # REFUSED is not transient: no retry
    assert "refused 1 of 9 RRset change(s), the other 8 were applied: create mx MX: REFUSED" in outcome["error"]
    assert outcome["pending"] == 1 and outcome["changes"] == 9  # only the MX is missing
    assert ask(lab, "bind", f"h8.{zone}", "A") == {"192.0.2.8"}  # message 3's other change
    again = repo.run("apply", "--yes")  # only the MX is left: refused again, nothing changes
    assert again.exit_code == 1
    assert "create mx MX: REFUSED" in again.output and "nothing was changed" in again.output


def test_wrong_tsig_key_is_a_clear_error(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["bind", "knot"])
    repo.env = {**repo.env, "DNSSYNC_LAB_BIND_TSIG": "d3JvbmctYnV0LXZhbGlkLWJhc2U2NC1zZWNyZXQ="}
    result = repo.run("plan")
    assert result.exit_code == 1
    assert "TSIG secret does not match the server's (BADSIG)" in result.output
    assert "d3JvbmctYnV0LXZhbGlkLWJhc2U2NC1zZWNyZXQ=" not in result.output
    assert "knot" in result.output and "+ create" in result.output  # knot still planned


def test_debug_output_never_shows_a_secret(make_repo, lab):
    zone = unique_zone()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"})
    result = repo.run("--debug", "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "DEBUG" in result.output  # debug logging really was on
    for secret in lab.env().values():
        assert secret not in result.output


def test_rfc2136_error_messages_carry_no_secret(lab):
    zone = unique_zone()
    lab.add_zone(zone, ["bind"])
    bad = provider(BindProvider, lab)
    bad.key_secret = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1zaG93"
    with pytest.raises(Rfc2136Error) as error:
        bad.populate(Zone(zone, []))
    assert bad.key_secret not in str(error.value)
    assert not error.value.transient


def test_axfr_keeps_up_with_knot_when_parsing_is_slow(lab, monkeypatch):
    """Knot drops a transfer whose reader falls behind. dnspython's xfr (octodns-bind's
    path) reads each message only after parsing the one before, so a busy process gets
    EOF; dnssync's transfer drains the socket first and parses behind it."""
    import time

    import dns.message
    import dns.query
    import dns.tsigkeyring
    import yaml

    from dnssync.query import axfr, wire

    zone = unique_zone("axfr")
    lab.add_zone(zone, ["knot"], ["ns1.knot.lab."])
    desired = desired_zone(zone, yaml.safe_load(long_txt_zone(2000)))
    knot = provider(KnotProvider, lab, "knot")
    knot.apply(knot.plan(desired))
    keyring = dns.tsigkeyring.from_text({lab.knot.key_name: lab.knot.key_secret})
    parse = dns.message.from_wire

    def busy_parse(*args, **kwargs):  # the same parse, as slow as in a busy process
        time.sleep(0.1)
        return parse(*args, **kwargs)

    monkeypatch.setattr(dns.message, "from_wire", busy_parse)
    with pytest.raises(EOFError):
        for _ in dns.query.xfr(lab.knot.address, zone, keyring=keyring, keyalgorithm="hmac-sha256", timeout=10):
            pass
    frame = wire.parse_reply

    def busy_frame(data):  # dnssync's own parsing, made as slow
        time.sleep(0.1)
        return frame(data)

    monkeypatch.setattr(wire, "parse_reply", busy_frame)
    key = axfr.tsig_key(lab.knot.key_name, lab.knot.key_secret)
    records = list(axfr.transfer(lab.knot.address, zone, key=key, timeout=30))
    assert sum(rr.rdtype == dns.rdatatype.TXT for _, rr in records) == 2000


def test_a_type_change_whose_add_is_refused_keeps_the_old_record(lab):
    """CNAME->A at one name is a delete and an add. BIND refuses the A (101 values: over
    its max-records-per-type, SERVFAIL each time). The bisect used to send the delete and
    the add in different halves: the CNAME was deleted and the name was gone. They go
    together now: both are refused, the CNAME is still served, the other change goes."""
    zone = unique_zone("cna")
    lab.add_zone(zone, ["bind"], ["ns1.bind.lab."])
    ours = provider(BindProvider, lab)
    ours.apply(ours.plan(desired_zone(zone, {"www": {"type": "CNAME", "ttl": 60, "value": "target.example."}})))
    many = [f"10.0.{i // 250}.{i % 250 + 1}" for i in range(101)]
    desired = desired_zone(zone, {"www": {"type": "A", "ttl": 60, "values": many},
                                  "ok": {"type": "A", "ttl": 60, "value": "192.0.2.7"}})
    with pytest.raises(Refused) as refused:
        ours.apply(ours.plan(desired))
    assert ask(lab, "bind", f"www.{zone}", "CNAME") == {"target.example."}
    assert ask(lab, "bind", f"ok.{zone}", "A") == {"192.0.2.7"}
    assert {what for what, _ in refused.value.refused} == {"delete www CNAME", "create www A"}


def test_a_servfail_in_a_later_message_is_sent_again_not_blamed(lab):
    """Knot behind a relay that answers SERVFAIL to update messages 2 and 3 (a server
    failing for a moment). The first failure is checked with an empty update (it passes)
    and split; the single change then answered SERVFAIL used to be reported as refused by
    its data, never retried. It is sent once more now, and goes."""
    zone = unique_zone("sfl")
    lab.add_zone(zone, ["knot"], ["ns1.knot.lab."])
    direct = provider(KnotProvider, lab, "knot")
    desired = desired_zone(zone, {f"h{i}": {"type": "A", "ttl": 60, "value": f"192.0.2.{i}"} for i in range(1, 5)})
    server = lab.servers["knot"]
    with ServfailRelay(server.address, server.port, server.key_name, server.key_secret, fail={1, 2}) as relay:
        relayed = KnotProvider("test-knot", "127.0.0.1", port=relay.port, key_name=server.key_name,
                               key_secret=server.key_secret, key_algorithm="hmac-sha256", strict_supports=False,
                               update_batch_size=2)
        relayed.apply(direct.plan(desired))
    # [h1 h2] [h3 h4]: SERVFAIL, then split: [h3]: SERVFAIL, [h3] again: applied; [h4]...
    assert relay.answered[:4] == ["NOERROR", "SERVFAIL", "SERVFAIL", "NOERROR"]
    assert relay.names[2] == relay.names[3] == [f"h3.{zone}"] and "SERVFAIL" not in relay.answered[4:]
    assert direct.plan(desired) is None  # every record is there
