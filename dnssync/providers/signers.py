"""Which DNS servers can be one of several signers of a zone (RFC 8901 model 2), as data.

Multi-signer needs every provider to publish the other providers' zone-signing
keys in its own DNSKEY RRset. Whether a server does is a property of its
software and version, confirmed here against the real servers
(tests/test_dnssec_apply_lab.py):

* BIND 9.18 under `dnssec-policy` accepts a foreign DNSKEY added by RFC 2136,
  keeps it and serves it beside its own keys, signed by its KSK.
* Knot DNS 3.2 with automatic signing answers the update NOERROR and then
  serves only its own keys: the added DNSKEY is dropped when the zone is
  re-signed. Keeping foreign keys needs Knot 3.3's `dnskey-management:
  incremental`, which is not tried here, so a Knot 3.3+ is not assumed to work.
* PowerDNS Authoritative 4.7 stores a DNSKEY RRset sent through its API
  (it is in the database) but serves only the keys of its own keystore for a
  zone it signs (the "presigned" mode that would serve it does not sign).
* The embedded server (`class: embedded`) serves foreign DNSKEYs added by RFC 2136.

A plan asks each provider's nameserver what software it runs (`version.bind`,
CHAOS TXT, as `dig CH TXT version.bind` does); when a server hides it, the
provider's class says which software it must be. A provider that cannot take
part is named with the server, its version and the feature it lacks, before
anything is sent, never discovered as a silent partial setup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype


@dataclass(frozen=True)
class SignerSoftware:
    """One server software as a multi-signer participant."""

    name: str
    version_pattern: str  # matched against the version.bind text
    provider_classes: tuple[str, ...]  # dnssync/octoDNS class names that talk to it
    #: None when this version publishes foreign DNSKEYs, else the feature it lacks
    missing: Callable[[str], str | None]

    def version_of(self, text: str) -> str | None:
        match = re.search(self.version_pattern, text)
        return match.group(1) if match else None


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def _bind(version: str) -> str | None:
    if _numbers(version) >= (9, 18):
        return None
    return "dnssec-policy accepting foreign DNSKEYs by RFC 2136 (confirmed from BIND 9.18)"


def _knot(version: str) -> str | None:
    if _numbers(version) < (3, 3):
        return ("keeping DNSKEYs added by RFC 2136 under automatic signing (it drops them; Knot 3.3's"
                " `dnskey-management: incremental` is needed)")
    return ("a confirmed way to publish foreign DNSKEYs (Knot 3.3's `dnskey-management: incremental` is"
            " untested with dnssync)")


def _powerdns(version: str) -> str | None:
    return ("serving a foreign DNSKEY for a zone it signs (it stores a DNSKEY RRset sent through its API but"
            " serves only its own keystore's keys)")


SOFTWARE = (
    SignerSoftware("BIND", r"^(9\.\d+\.\d+\S*)", ("BindProvider", "Rfc2136Provider"), _bind),
    SignerSoftware("Knot DNS", r"Knot DNS (\d+\.\d+\.\d+\S*)", ("KnotProvider",), _knot),
    SignerSoftware("PowerDNS", r"PowerDNS Authoritative Server (\d+\.\d+\.\d+\S*)", ("PowerDnsProvider",),
                   _powerdns),
    SignerSoftware("dnssync embedded", r"dnssync-embedded (\S+)", ("EmbeddedProvider",), lambda v: None),
)


@dataclass(frozen=True)
class SignerVerdict:
    """Whether one provider can publish other providers' keys, and why not."""

    software: str  # "BIND 9.18.28" / "PowerDNS (version hidden)" / "unknown"
    missing: str | None  # None: it can

    @property
    def can(self) -> bool:
        return self.missing is None


def server_version(host: str, port: int = 53, timeout: float = 2.0) -> str | None:
    """The server's `version.bind` (CHAOS TXT) text, or None when it does not say."""
    query = dns.message.make_query("version.bind.", dns.rdatatype.TXT, dns.rdataclass.CH)
    try:
        reply = dns.query.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.TXT:
            return b"".join(rrset[0].strings).decode(errors="replace")
    return None


def verdict(provider_class: str, version_text: str | None) -> SignerVerdict:
    """What the software `version_text` names (or, when hidden, what `provider_class`
    talks to) can do as one of several signers."""
    for software in SOFTWARE:
        version = software.version_of(version_text or "")
        if version is not None:
            return SignerVerdict(f"{software.name} {version}", software.missing(version))
    for software in SOFTWARE:
        if provider_class in software.provider_classes:
            name = f"{software.name} (version hidden)"
            missing = software.missing("0")  # no version: only what every version can counts
            return SignerVerdict(name, missing and f"{missing}; its version could not be read")
    return SignerVerdict(provider_class, "publishing another provider's DNSKEY (no way to do it is known for"
                                         f" {provider_class})")
