"""Unit tests of the pieces that need no server: YAML locations, secrets, plan data,
RFC 2136 update ordering and sizing."""

from __future__ import annotations

import io
import logging

import dns.rdatatype
import pytest
from octodns.record import Create, Delete, Record, Update
from octodns.zone import Zone

from dnssync.model import secrets
from dnssync.model.errors import UsageError
from dnssync.model.plan import Change, Plan, ProviderPlan
from dnssync.providers.rfc2136 import KnotProvider
from dnssync.repo.yamlfile import YamlError, load_file


def test_yaml_remembers_lines_and_rejects_duplicates(tmp_path):
    path = tmp_path / "z.yaml"
    path.write_text("a:\n  type: A\n  values:\n    - 192.0.2.1\n    - 192.0.2.2\nb: {type: A, value: x}\n")
    data, problems = load_file(path)
    assert data.key_lines == {"a": 1, "b": 6}
    assert data["a"]["values"].item_lines == [4, 5]
    assert problems == []
    path.write_text("a: 1\nb:\n  c: 1\n  c: 2\n")
    with pytest.raises(YamlError, match="duplicate key 'c' \\(first defined at line 3\\)") as error:
        load_file(path)
    assert error.value.finding.line == 4


def test_yaml_include(tmp_path):
    (tmp_path / "part.yaml").write_text("type: A\nvalue: 192.0.2.1\n")
    (tmp_path / "z.yaml").write_text("www: !include part.yaml\n")
    data, _ = load_file(tmp_path / "z.yaml")
    assert data["www"] == {"type": "A", "value": "192.0.2.1"}


def test_secret_masked_in_logs_including_decoded_form():
    secret = "c3VwZXItc2VjcmV0LXRzaWc="  # base64 of super-secret-tsig
    secrets.register(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(secrets.RedactingFilter())
    log = logging.getLogger("test-plugin")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.debug("key_secret=%s raw=%r", secret, b"super-secret-tsig")
    log.removeHandler(handler)
    assert secret not in stream.getvalue() and "super-secret-tsig" not in stream.getvalue()
    assert secrets.MASK in stream.getvalue()


def sample_plan() -> Plan:
    change = Change("update", "www", "A", {"ttl": 300, "values": ["192.0.2.1"]},
                    {"ttl": 60, "values": ["192.0.2.2"]})
    return Plan(zones={"example.com.": [{"name": "www", "type": "A", "ttl": 60, "value": "192.0.2.2"}]},
                providers=[ProviderPlan("pdns", "example.com.", True, [change], existing_count=3,
                                        existing_digest="sha256:abc")])


def test_plan_json_round_trip_and_checksum():
    plan = sample_plan()
    again = Plan.from_json(plan.to_json())
    assert again.providers == plan.providers and again.zones == plan.zones
    assert again.checksum == plan.checksum


def test_tampered_plan_refused():
    text = sample_plan().to_json().replace("192.0.2.2", "192.0.2.66")
    with pytest.raises(UsageError, match="checksum"):
        Plan.from_json(text)


def make_record(zone: Zone, name: str, data: dict) -> Record:
    return Record.new(zone, name, data)


def test_rfc2136_orders_deletes_then_addresses_then_pointers():
    zone = Zone("example.com.", [])
    provider = KnotProvider("k", "127.0.0.1", strict_supports=False)
    mx = make_record(zone, "a", {"type": "MX", "ttl": 60, "value": {"exchange": "z.example.com.", "preference": 1}})
    address = make_record(zone, "z", {"type": "A", "ttl": 60, "value": "192.0.2.1"})
    gone_cname = make_record(zone, "old", {"type": "CNAME", "ttl": 60, "value": "z.example.com."})
    gone_address = make_record(zone, "b", {"type": "A", "ttl": 60, "value": "192.0.2.9"})
    ops = provider._operations([Create(mx), Create(address), Delete(gone_address), Delete(gone_cname)])
    assert [(op.action, op.name.split(".")[0]) for op in ops] == [
        ("delete", "old"), ("delete", "b"), ("add", "z"), ("add", "a")]


def test_rfc2136_apex_ns_changed_value_by_value():
    zone = Zone("example.com.", [])
    provider = KnotProvider("k", "127.0.0.1", strict_supports=False)
    old = make_record(zone, "", {"type": "NS", "ttl": 60, "values": ["a.ns.", "b.ns."]})
    new = make_record(zone, "", {"type": "NS", "ttl": 3600, "values": ["b.ns.", "c.ns."]})
    [batch] = provider._batches(provider._operations([Update(old, new)]))
    update = provider._message("example.com.", batch)
    rrs = [(rrset.deleting, rrset.ttl, sorted(r.to_text() for r in rrset)) for rrset in update.update]
    assert all(rrset.rdtype == dns.rdatatype.NS for rrset in update.update)
    # never "delete the whole NS RRset" (servers ignore it); b re-added for the new TTL; a deleted last
    assert [r for r in rrs if r[0] is not None and not r[2]] == []
    assert rrs[-1][2] == ["a.ns."] and rrs[-1][0] is not None
    assert (None, 3600, ["c.ns."]) in rrs and (None, 3600, ["b.ns."]) in rrs


def test_plan_format_doc_names_every_key():
    """docs/plan-format.md documents every key a plan has (the format is promised stable)."""
    import json

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "plan-format.md").read_text()
    data = json.loads(sample_plan().to_json())
    keys = set(data) | set(data["providers"][0]) | set(data["providers"][0]["changes"][0])
    for key in keys:
        assert f"`{key}`" in doc or f"`.{key}`" in doc or f"`.{key}[]`" in doc or f"`{key}[]`" in doc, key


def test_secret_with_a_trailing_newline_is_masked_in_provider_errors():
    """A CI variable or secret file often ends in a newline; requests then refuses the
    header and echoes the value in its error."""
    import requests

    from dnssync.providers.hints import describe_error

    secrets.register("s3cretKEY-1234\n")
    error = requests.exceptions.InvalidHeader("Invalid leading whitespace, reserved character(s), or return"
                                              " character(s) in header value: 's3cretKEY-1234\\n'")
    assert "s3cretKEY-1234" not in describe_error(error)


def test_secret_option_names():
    for key in ("api_key", "key_secret", "password", "token", "private_key", "consumer_key", "auth_key",
                "client_secret", "credentials"):
        assert secrets.is_secret_key(key), key
    for key in ("key_name", "key_algorithm", "host", "port", "access_key_id"):
        assert not secrets.is_secret_key(key), key


def test_bind_check_integrity_judges_in_zone_by_label():
    """An MX to mx.foobar.com. is not in zone bar.com.; one to a name below a delegation is
    the child's business; only an in-zone exchange without an address is refused."""
    from dnssync.providers.rfc2136 import BindProvider

    zone = Zone("bar.com.", [])
    for name, data in {
        "": {"type": "MX", "ttl": 60, "values": [{"exchange": "mx.foobar.com.", "preference": 1},
                                                   {"exchange": "mx.child.bar.com.", "preference": 2}]},
        "child": {"type": "NS", "ttl": 60, "value": "ns.example.net."},
        "bad": {"type": "MX", "ttl": 60, "value": {"exchange": "nowhere.bar.com.", "preference": 1}},
    }.items():
        zone.add_record(make_record(zone, name, data))
    provider = BindProvider("b", "127.0.0.1", strict_supports=False)
    served = provider._process_desired_zone(zone.copy())
    assert {(r.name, r._type) for r in served.records} == {("", "MX"), ("child", "NS")}
    bad = next(r for r in zone.records if r.name == "bad")
    assert "nowhere.bar.com." in provider.unsupported_reason(bad)


def test_transient_or_not():
    import requests

    from dnssync.applying.apply import is_transient

    assert is_transient(requests.ConnectionError("refused"))
    assert is_transient(requests.Timeout("slow"))
    assert not is_transient(requests.exceptions.InvalidHeader("bad header value"))
    assert not is_transient(requests.exceptions.MissingSchema("no scheme"))


def test_text_output_masks_secrets():
    """Reports print through Context.out: whatever a provider's error text carries, a
    registered secret never reaches the terminal."""
    import io as _io

    from dnssync.commands.base import Redacting

    secrets.register("hunter2-very-secret")
    buffer = _io.StringIO()
    Redacting(buffer).write("provider said: bad key hunter2-very-secret\n")
    assert "hunter2" not in buffer.getvalue() and secrets.MASK in buffer.getvalue()


def test_expectations_builder_never_mistakes_one_record_for_a_freed_one():
    """Expectations are built once per record object and cached by its id(). A record
    that builds to nothing (below a delegation) used to be freed after building, so the
    next record allocated at its address (another provider's adjusted copy) got its empty
    expectations: silently never asked."""
    from dnssync.verify.expect import _Builder

    zone = Zone("idreuse.test.", [])
    zone.add_record(Record.new(zone, "sub", {"type": "NS", "ttl": 60, "values": ["ns1.elsewhere.example."]}))
    occluded = Record.new(zone, "x.sub", {"type": "TXT", "ttl": 60, "value": "below the cut"})
    data = Record.new(zone, "www", {"type": "TXT", "ttl": 60, "value": "data"})
    builder = _Builder(zone)
    for _ in range(50):
        copy = occluded.copy()
        assert builder.build(copy) == []
        del copy
        adjusted = data.copy()  # as a provider's clamped copy would be
        assert [e.kind for e in builder.build(adjusted)] == ["data"]
        del adjusted


def test_managed_parent_is_the_closest_enclosing_zone_of_the_repository():
    from dnssync.verify.delegation import managed_parent

    names = {"example.test.", "sub.example.test.", "other.test."}
    assert managed_parent("deep.sub.example.test.", names) == "sub.example.test."
    assert managed_parent("sub.example.test.", names) == "example.test."
    assert managed_parent("example.test.", names) is None  # test. itself is not managed
