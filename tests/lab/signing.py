"""DNSSEC in the lab, opt-in per zone (`Lab.add_signed_zone`): each server signs a zone
itself, with keys it makes (PowerDNS through its API with NSEC3, Knot's automatic signing,
BIND's `dnssec-policy`), the parent `test.` is signed by its Knot and holds the DS records
a test asks for, and a validating Unbound on `{net}.7` trusts `test.`'s key.

Nothing here runs unless a test signs a zone: the rest of the suite sees unsigned zones, an
unsigned parent and the plain resolver on `{net}.6`, as before.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.update

from tests.lab.servers import LabError, Server, Unbound

SEP = 0x0001  # the DNSKEY flag a KSK carries (RFC 4034 §2.1.1)


def dnskeys(address: str, zone: str, port: int = 53) -> dns.rrset.RRset | None:
    """The DNSKEY RRset `address` serves for `zone` (TCP: key sets are big), or None."""
    query = dns.message.make_query(zone, "DNSKEY", want_dnssec=True)
    response = dns.query.tcp(query, address, port=port, timeout=5)
    return response.get_rrset(response.answer, dns.name.from_text(zone), dns.rdataclass.IN,
                              dns.rdatatype.DNSKEY)


def ds_texts(keys: dns.rrset.RRset) -> list[str]:
    """DS RDATA (SHA-256) of every KSK (SEP flag) in `keys`, as a registrar would send them."""
    return [dns.dnssec.make_ds(keys.name, key, "SHA256").to_text() for key in keys if key.flags & SEP]


def wait_signed(server: Server, zone: str, timeout: float = 30) -> dns.rrset.RRset:
    """Wait until `server` serves a DNSKEY RRset for `zone` and a signed SOA; its DNSKEYs."""
    deadline = time.monotonic() + timeout
    while True:
        keys = dnskeys(server.address, zone, server.port)
        soa = dns.query.udp(dns.message.make_query(zone, "SOA", want_dnssec=True), server.address,
                            port=server.port, timeout=5)
        signed = any(r.rdtype == dns.rdatatype.RRSIG for r in soa.answer)
        if keys is not None and signed and any(k.flags & SEP for k in keys) and len(keys) >= 2:
            return keys
        if time.monotonic() > deadline:
            raise LabError(f"{server.name} does not sign {zone}: {server.log_tail()}")
        time.sleep(0.2)


def set_ds(parent: Server, child: str, records: list[str], ttl: int = 60) -> None:
    """Make the parent's DS set for `child` exactly `records` (none: no DS)."""
    keyring = dns.tsigkeyring.from_text({parent.key_name: parent.key_secret})  # type: ignore[attr-defined]
    update = dns.update.UpdateMessage(child.split(".", 1)[1], keyring=keyring, keyname=parent.key_name,  # type: ignore[attr-defined]
                                      keyalgorithm=dns.tsig.HMAC_SHA256)
    if records:
        update.replace(child, ttl, "DS", *records)
    else:
        update.delete(child, "DS")
    response = dns.query.tcp(update, parent.address, port=parent.port, timeout=5)
    if response.rcode() != dns.rcode.NOERROR:
        raise LabError(f"parent: DS of {child}: {dns.rcode.to_text(response.rcode())}")


def presign(zone: str, text: str, workdir: Path, start: str = "now-3600", end: str = "+2592000",
            algorithm: str = "ECDSAP256SHA256", nsec3: bool = False) -> str:
    """`text` (a zone file) signed offline by BIND's dnssec-signzone with a fresh KSK + ZSK of `algorithm`,
    signatures valid from `start` to `end` (dnssec-signzone's forms: YYYYMMDDHHMMSS, now-N, +N).
    A server serving the result as it is (no signing of its own) serves exactly these
    signatures: expired ones, or ones a test breaks afterwards. `nsec3`: denial by NSEC3
    (no salt, no extra iterations, RFC 9276) instead of NSEC."""
    folder = workdir / "presigned" / zone.rstrip(".")
    folder.mkdir(parents=True, exist_ok=True)
    for flags in (["-f", "KSK"], []):
        subprocess.run(["dnssec-keygen", "-q", "-K", str(folder), "-a", algorithm, *flags, zone],
                       check=True, capture_output=True, cwd=folder, timeout=30)
    (folder / "zone").write_text(text)
    # -P: no verification afterwards (it refuses signatures that are not valid now, the point here)
    denial = ["-3", "-", "-H", "0"] if nsec3 else []
    done = subprocess.run(["dnssec-signzone", "-P", "-S", *denial, "-K", str(folder), "-o", zone, "-s", start,
                           "-e", end, "-f", str(folder / "signed"), str(folder / "zone")],
                          capture_output=True, text=True, cwd=folder, timeout=60)
    if done.returncode != 0:
        raise LabError(f"dnssec-signzone {zone}: {done.stderr.strip()}")
    return (folder / "signed").read_text()


@dataclass
class SignedZone:
    """A zone each lab server signs with its own keys: what they serve, what the parent holds."""

    zone: str
    keys: dict[str, dns.rrset.RRset]  # server name -> the DNSKEY RRset it serves
    ds: list[str]  # DS RDATA of every server's KSK, as put at the parent (unless ds=False)


@dataclass
class ValidatingUnbound(Unbound):
    """An Unbound that validates, trusting the key of the lab's signed parent `test.`:
    a chain parent DS -> each provider's KSK, as on the internet. Its own instance, so the
    plain resolver that watch observes never changes."""

    trust_anchors: list[str] = field(default_factory=list)  # "test. DS ..." lines

    def write_config(self) -> None:
        super().write_config()
        text = self.config_path.read_text().replace('module-config: "iterator"',
                                                    'module-config: "validator iterator"')
        anchors = "".join(f'    trust-anchor: "{anchor}"\n' for anchor in self.trust_anchors)
        text = text.replace("    verbosity: 1\n", "    verbosity: 1\n    val-log-level: 2\n" + anchors)
        self.config_path.write_text(text)

    def point(self, zone: str, addresses: list[str]) -> None:
        """Reach `zone` at these addresses only from now on (cached keys stay cached): what a
        resolver meets when it holds one provider's DNSKEY set and then asks another."""
        if zone in self.stubs:
            self.control("stub_remove", zone)
        self.add_stub(zone, addresses)

    def ask(self, name: str, rtype: str) -> dns.message.Message:
        """A question as a stub resolver asks it (RD, DO): the answer carries AD when validated."""
        query = dns.message.make_query(name, rtype, want_dnssec=True)
        return dns.query.udp(query, self.address, port=self.port, timeout=10)

    def validated(self, name: str, rtype: str) -> bool:
        response = self.ask(name, rtype)
        return response.rcode() == dns.rcode.NOERROR and bool(response.flags & dns.flags.AD)
