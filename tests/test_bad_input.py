"""Bad input: each case gets a clear message with file and line, exit 2, nothing sent,
no traceback, and no secret in the output.

"Nothing sent" is proven with a real listening socket standing in for the
provider's API and nameserver: it counts every connection it receives.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnssync.cli import main

SECRET = "s3cr3t-api-key-never-shown"


class Listener:
    """A TCP port that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.sock.close()


GOOD_ZONE = """---
'':
  type: A
  value: 192.0.2.1
www:
  type: CNAME
  value: example.com.
"""


def write_repo(root: Path, port: int, zone: str = GOOD_ZONE, provider: str | None = None,
               config: str | None = None, extra_files: dict[str, str] | None = None) -> Path:
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    (root / "dnssync.yaml").write_text(config or "zones: zones\nproviders: providers\n")
    (root / "zones" / "example.com.yaml").write_text(zone)
    (root / "providers" / "pdns.yaml").write_text(provider or f"""class: powerdns
host: 127.0.0.1
port: {port}
api_key: env/TEST_PDNS_KEY
nameservers:
  - name: ns1.example.net.
    address: 127.0.0.1:{port}
""")
    for name, text in (extra_files or {}).items():
        (root / name).write_text(text)
    return root


def run(root: Path, *args: str, env: dict | None = None):
    env = {"TEST_PDNS_KEY": SECRET, **(env or {})}
    return CliRunner().invoke(main, ["-c", str(root), *args], env=env)


def check_rejected(result, listener: Listener, *needles: str) -> str:
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert SECRET not in output
    assert listener.connections == 0, "something was sent to the provider"
    for needle in needles:
        assert needle in output, f"{needle!r} not in:\n{output}"
    return output


ZONE_CASES = {
    "malformed-yaml": ("'':\n  type: A\n  value: [192.0.2.1\n", ["example.com.yaml:4", "not valid YAML"]),
    "duplicate-key": ("www:\n  type: A\n  value: 192.0.2.1\nwww:\n  type: A\n  value: 192.0.2.2\n",
                      ["example.com.yaml:4", "duplicate key 'www'", "line 1"]),
    "unknown-type": ("www:\n  type: BOGUS\n  value: x\n", ["example.com.yaml:2", "Unknown record type"]),
    "invalid-ip": ("www:\n  type: A\n  values:\n    - 192.0.2.1\n    - 192.0.2.300\n",
                   ["example.com.yaml:5", "192.0.2.300"]),
    "cname-apex": ("'':\n  type: CNAME\n  value: other.example.net.\n",
                   ["example.com.yaml:1", "zone.cname-apex", "root CNAME"]),
    "cname-and-a": ("www:\n  - type: A\n    value: 192.0.2.1\n  - type: CNAME\n    value: example.com.\n",
                    ["example.com.yaml:4", "zone.cname-other", "CNAME beside A at the same name is invalid DNS"]),
    "label-too-long": (f"{'a' * 64}:\n  type: A\n  value: 192.0.2.1\n",
                       ["example.com.yaml:1", "zone.name", "too long at 64 chars, max is 63"]),
    "name-too-long": ("{}:\n  type: A\n  value: 192.0.2.1\n".format(".".join(["a" * 60] * 4)),
                      ["example.com.yaml:1", "zone.name", "max is 253"]),
    "ttl-negative": ("www:\n  type: A\n  ttl: -1\n  value: 192.0.2.1\n",
                     ["example.com.yaml:3", "zone.ttl-range"]),
    "ttl-too-big": ("www:\n  type: A\n  ttl: 2147483648\n  value: 192.0.2.1\n",
                    ["example.com.yaml:3", "zone.ttl-range", "2147483647"]),
    "ttl-string-too-big": ("www:\n  type: A\n  ttl: '3000000000'\n  value: 192.0.2.1\n",
                           ["example.com.yaml:3", "zone.ttl-range", "octoDNS checks no range"]),
    "ttl-true": ("www:\n  type: A\n  ttl: true\n  value: 192.0.2.1\n", ["example.com.yaml:3", "TTL true"]),
    "ttl-fraction": ("www:\n  type: A\n  ttl: 300.7\n  value: 192.0.2.1\n", ["example.com.yaml:3", "TTL 300.7"]),
    "ttl-octal": ("www:\n  type: A\n  ttl: 01234\n  value: 192.0.2.1\n",
                  ["example.com.yaml:3", "TTL 01234 is read by YAML as 668"]),
    "txt-over-64k": (f"www:\n  type: TXT\n  value: {'x' * 66_000}\n",
                     ["example.com.yaml:1", "zone.size", "one value is", "65,535 octets"]),
    # short values, many of them: judged by their size in a message, however short each one is
    "txt-values-over-64k": ("big:\n  type: TXT\n  values:\n"
                            + "".join(f"    - v{i:05d}{'x' * 40}\n" for i in range(1500)),
                            ["example.com.yaml:1", "zone.size", "1500 value(s)"]),
    "rrset-over-64k": ("big:\n  type: AAAA\n  values:\n" + "".join(f"    - 2001:db8::{i:x}\n" for i in range(2500)),
                       ["example.com.yaml:1", "zone.size", "2500 value(s)"]),
    # lenient skips octoDNS's validation, but octoDNS still cannot build an address of 999
    "lenient-unbuildable": ("www:\n  octodns:\n    lenient: true\n  type: A\n  value: 192.0.2.999\n",
                            ["example.com.yaml:1", "zone.record", "cannot build this record", "Octet 999"]),
    "mx-target-cname": ("'':\n  type: MX\n  value:\n    exchange: www.example.com.\n    preference: 10\n"
                        "www:\n  type: CNAME\n  value: example.net.\n",
                        ["example.com.yaml:1", "zone.target", "RFC 2181"]),
}


@pytest.mark.parametrize("case", sorted(ZONE_CASES))
@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_bad_zone(tmp_path, listener, case, command):
    zone, needles = ZONE_CASES[case]
    root = write_repo(tmp_path, listener.port, zone=zone)
    args = [command, "--yes"] if command == "apply" else [command]
    check_rejected(run(root, *args), listener, *needles)


PROVIDER_CASES = {
    "class-does-not-import": ("class: nosuch_plugin.Provider\nhost: x\nnameservers: [ns1.example.net.]\n",
                              {}, ["pdns.yaml:1", "does not import", "nosuch_plugin"]),
    "missing-secret": ("class: powerdns\nhost: 127.0.0.1\napi_key: env/NOT_SET_ANYWHERE\n"
                       "nameservers: [ns1.example.net.]\n", {}, ["pdns.yaml:3", "NOT_SET_ANYWHERE"]),
    "no-nameservers": ("class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_PDNS_KEY\n", {},
                       ["pdns.yaml", "no nameservers"]),
    "unknown-option": ("class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_PDNS_KEY\nbogus_option: 1\n"
                       "nameservers: [ns1.example.net.]\n", {}, ["pdns.yaml:4", "no option 'bogus_option'"]),
    "zone-unserved": ("class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_PDNS_KEY\nzones: [other.org]\n"
                      "nameservers: [ns1.example.net.]\n", {"zones/other.org.yaml": "{}\n"},
                      ["example.com.yaml:1", "served by no provider"]),
}


@pytest.mark.parametrize(("case", "command"), [
    (case, command) for case in sorted(PROVIDER_CASES) for command in ("validate", "plan")
    # validate contacts no provider: a missing secret is a warning there (tests/test_first_hour.py)
    if (case, command) != ("missing-secret", "validate")])
def test_bad_provider(tmp_path, listener, case, command):
    provider, extra, needles = PROVIDER_CASES[case]
    root = write_repo(tmp_path, listener.port, provider=provider, extra_files=extra)
    check_rejected(run(root, command), listener, *needles)


CONFIG_CASES = {
    "parity-zones-not-a-mapping": ("policy:\n  parity:\n    zones: [a]\n", "dnssync.yaml:5", "policy.parity.zones"),
    "threshold-yes": ("policy:\n  delete_threshold: yes\n", "dnssync.yaml:4", "'delete_threshold' must be"),
    "apex-ttl-negative": ("apex_ns:\n  ttl: -5\n", "dnssync.yaml:4", "apex_ns ttl -5"),
    "timeout-true": ("defaults:\n  timeout: true\n", "dnssync.yaml:4", "'timeout' must be"),
    "dnssec-mode": ("policy:\n  dnssec: signed\n", "dnssync.yaml:4", "dnssec must be one of unsigned, multi-signer"),
    "dnssec-zone-mode": ("policy:\n  dnssec:\n    zones:\n      example.com: multisigner\n",
                         "dnssync.yaml:6", "got 'multisigner'"),
    "dnssec-margin": ("policy:\n  dnssec:\n    expiry_margin: 3 days\n", "dnssync.yaml:5",
                      "policy.dnssec.expiry_margin must be a duration"),
    "dnssec-unknown-key": ("policy:\n  dnssec:\n    margin: 3d\n", "dnssync.yaml:5",
                           "unknown key 'margin' in policy.dnssec"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_config_values(tmp_path, listener, case):
    extra, where, needle = CONFIG_CASES[case]
    root = write_repo(tmp_path, listener.port, config="zones: zones\nproviders: providers\n" + extra)
    check_rejected(run(root, "plan"), listener, where, needle)


def test_nameserver_name_that_is_not_a_host_name(tmp_path, listener):
    provider = ("class: powerdns\nhost: 127.0.0.1\napi_key: env/TEST_PDNS_KEY\nnameservers:\n"
                "  - name: bad name.example.\n")
    root = write_repo(tmp_path, listener.port, provider=provider)
    check_rejected(run(root, "plan"), listener, "pdns.yaml:5", "not a host name")


def test_unknown_config_key(tmp_path, listener):
    root = write_repo(tmp_path, listener.port, config="zones: zones\nproviders: providers\nzonez: x\n")
    check_rejected(run(root, "plan"), listener, "dnssync.yaml:3", "unknown key 'zonez'")


def test_keys_out_of_order_accepted_with_warning(tmp_path, listener):
    root = write_repo(tmp_path, listener.port, zone="www:\n  value: 192.0.2.1\n  type: A\n")
    result = run(root, "validate")
    assert result.exit_code == 0, result.output
    assert "zone.key-order" in result.output and "example.com.yaml:2" in result.output


def test_keys_out_of_order_refused_when_enforced(tmp_path, listener):
    root = write_repo(tmp_path, listener.port, zone="www:\n  value: 192.0.2.1\n  type: A\n",
                      config="zones: zones\nproviders: providers\ndefaults:\n  enforce_order: true\n")
    check_rejected(run(root, "validate"), listener, "example.com.yaml:2", "natural order")


def test_every_error_reported_at_once(tmp_path, listener):
    zone = "a:\n  type: A\n  value: 1.2.3.999\nb:\n  type: NOPE\n  value: x\n"
    root = write_repo(tmp_path, listener.port, zone=zone)
    output = check_rejected(run(root, "validate"), listener, "example.com.yaml:3", "example.com.yaml:5")
    assert "2 error(s)" in output


def test_validate_json_reports_errors(tmp_path, listener):
    import json

    root = write_repo(tmp_path, listener.port, zone="www:\n  type: A\n  value: 192.0.2.300\n")
    result = run(root, "validate", "--format", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert data["findings"][0]["line"] == 3 and data["findings"][0]["code"] == "zone.record"


def test_good_repo_validates(tmp_path, listener):
    result = run(write_repo(tmp_path, listener.port), "validate")
    assert result.exit_code == 0, result.output
    assert "Valid: 1 zone(s), 1 provider(s)" in result.output
    assert listener.connections == 0


def test_missing_config_file(tmp_path):
    result = CliRunner().invoke(main, ["-c", str(tmp_path / "nope.yaml"), "validate"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output and "file not found" in result.output
