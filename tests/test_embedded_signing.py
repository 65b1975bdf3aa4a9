"""`dnssync serve` signs the zones policy.dnssec makes multi-signer (and only those), with
keys kept in the state folder across restarts, and `dnssync fault NAME --rrsig` breaks its
signatures. (The real validating resolver judges the signing in test_dnssec_apply_lab.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import dns.dnssec
import dns.name
import dns.rdatatype
import pytest
import yaml

from dnssync.embedded.faults import FaultError, Faults
from tests.conftest import ROOT
from tests.embedded_repo import ask, copy_example_repo, run


def _serve(root):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = subprocess.Popen([sys.executable, "-m", "dnssync", "-c", str(root), "serve"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    while not any("Serving" in line for line in lines):
        line = serve.stdout.readline()
        assert line, "serve exited: " + "".join(lines)
        lines.append(line)
    return serve


def _stop(serve) -> None:
    serve.send_signal(signal.SIGTERM)
    serve.communicate(timeout=15)
    assert serve.returncode == 0


def _validates(port: int, name: str, rtype: str) -> bool:
    zone = dns.name.from_text("example.net.")
    keys = ask(port, "example.net.", "DNSKEY", tcp=True, use_edns=0, want_dnssec=True)
    keyset = keys.find_rrset(keys.answer, zone, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    reply = ask(port, name, rtype, tcp=True, use_edns=0, want_dnssec=True)
    data = next(r for r in reply.answer if r.rdtype == dns.rdatatype.from_text(rtype))
    sig = next(r for r in reply.answer if r.rdtype == dns.rdatatype.RRSIG)
    try:
        dns.dnssec.validate(data, sig, {zone: keyset})
    except dns.dnssec.ValidationFailure:
        return False
    return True


def test_serve_signs_multi_signer_zones_keeps_keys_and_fault_breaks_rrsigs(tmp_path):
    root = tmp_path / "r"
    ports = copy_example_repo(root)
    settings = yaml.safe_load((root / "dnssync.yaml").read_text())
    settings["policy"] = {"dnssec": {"default": "unsigned", "zones": {"example.net": "multi-signer"}}}
    (root / "dnssync.yaml").write_text(yaml.safe_dump(settings))
    for path in (root / "providers").glob("*.yaml"):  # resolvers keep the keys 1 s: apply waits that long
        path.write_text(path.read_text() + "dnskey_ttl: 1\n")
    serve = _serve(root)
    try:
        assert run(root, "apply", "--yes").exit_code == 0
        alpha = ports["alpha"]
        keys = ask(alpha, "example.net.", "DNSKEY", tcp=True, use_edns=0, want_dnssec=True)
        flags = sorted(k.flags for r in keys.answer if r.rdtype == dns.rdatatype.DNSKEY for k in r)
        assert flags == [256, 256, 256, 257]  # its KSK and ZSK, and bravo's and charlie's ZSKs
        assert not ask(alpha, "example.com.", "DNSKEY", use_edns=0, want_dnssec=True).answer  # unsigned
        assert _validates(alpha, "example.net.", "SOA")
        broken = run(root, "fault", "alpha", "--rrsig", "broken")
        assert broken.exit_code == 0 and "serves broken RRSIGs" in broken.output
        assert not _validates(alpha, "example.net.", "SOA")
        assert _validates(ports["bravo"], "example.net.", "SOA")
        assert "alpha: healthy" in run(root, "fault", "alpha", "--rrsig", "none").output
        assert _validates(alpha, "example.net.", "SOA")
    finally:
        _stop(serve)
    assert list((root / ".dnssync" / "embedded" / "alpha" / "keys").glob("example.net.keys.json"))
    mode = (root / ".dnssync" / "embedded" / "alpha" / "keys" / "example.net.keys.json").stat().st_mode
    assert mode & 0o077 == 0  # the private keys are the user's alone
    serve = _serve(root)
    try:  # the same keys after a restart: the DS at the parent stays right
        again = ask(alpha, "example.net.", "DNSKEY", tcp=True, use_edns=0, want_dnssec=True)
        assert {k for r in again.answer if r.rdtype == dns.rdatatype.DNSKEY for k in r} == \
            {k for r in keys.answer if r.rdtype == dns.rdatatype.DNSKEY for k in r}
    finally:
        _stop(serve)


def test_rrsig_fault_validates():
    with pytest.raises(FaultError, match="rrsig is one of broken, expired"):
        Faults(rrsig="garbled")
    assert Faults.from_dict({"rrsig": "expired"}).describe() == "serves expired RRSIGs"
