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

from dnssync.providers.rfc2136 import BindProvider, KnotProvider, Rfc2136Error
from tests.conftest import unique_zone
from tests.lab.zonegen import big_zone_data, long_txt_zone
from tests.test_push_lab import ask


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

    from dnssync import axfr, wire

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
