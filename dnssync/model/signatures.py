"""DNSSEC signatures and denial proofs as a validating resolver judges them (no I/O).

verify asks each provider's nameservers with the DO bit and hands the answers here;
the key exchange on apply can use the same judgement. Cryptography is dnspython's
`dns.dnssec` (on the `cryptography` package), imported where a signature or a hash is
worked out: every verify imports this module, most of them for unsigned zones (as
model/dnskeys.py does). What is kept apart on purpose:

* which key of a `KeyRing` a signature verifies with (`verifying_key`), independent of time: the
  multi-signer matrix then asks "is that key in provider Y's DNSKEY set?" for every Y
  without verifying again;
* the validity window (`timing`), so an expired signature is named as expired, not as
  a signature that does not validate;
* NSEC / NSEC3 denial proofs (RFC 4035 5.4, RFC 5155 8), which dnspython leaves to the
  resolver: a NXDOMAIN needs the closest-encloser proof and the wildcard's absence, a
  NODATA the name's own NSEC/NSEC3 without the type (and without CNAME).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.name
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

from dnssync.model.dnskeys import key_tag

#: DNSSEC algorithms by what RFC 8624 (3.1) says of validating them: MUST NOT be used
#: (resolvers treat them as unsigned or fail), and NOT RECOMMENDED / MAY (some resolvers
#: no longer validate them: SHA-1 is refused by RHEL 9's default policy, ED448 is optional)
ALGORITHMS_REFUSED = {1: "RSAMD5", 3: "DSA", 6: "DSA-NSEC3-SHA1", 12: "ECC-GOST"}
ALGORITHMS_WEAK = {5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1", 16: "ED448"}
#: RFC 9276: NSEC3 iterations above 0 cost resolvers work; above 100 several treat the zone as insecure
NSEC3_ITERATIONS_MAX = 100

_NO_TYPE = (dns.rdatatype.CNAME,)


def algorithm_problem(algorithm: int) -> tuple[str, str] | None:
    """('error'|'warning', why) when resolvers may not validate `algorithm`; None when all must."""
    if algorithm in ALGORITHMS_REFUSED:
        return "error", f"{ALGORITHMS_REFUSED[algorithm]} (algorithm {algorithm}) must not be used (RFC 8624)"
    if algorithm in ALGORITHMS_WEAK:
        return "warning", (f"{ALGORITHMS_WEAK[algorithm]} (algorithm {algorithm}) is not validated by every"
                           " resolver (RFC 8624: not recommended or optional)")
    if algorithm not in (8, 10, 13, 14, 15):
        return "error", f"algorithm {algorithm} is not one resolvers know (RFC 8624)"
    return None


@dataclass(frozen=True)
class Signed:
    """One RRset as served, with the RRSIGs over it."""

    rrset: dns.rrset.RRset
    rrsigs: tuple[RRSIG, ...]

    @property
    def label(self) -> str:
        return f"{self.rrset.name} {dns.rdatatype.to_text(self.rrset.rdtype)}"


def signed_rrsets(sections: Iterable[Sequence[dns.rrset.RRset]]) -> list[Signed]:
    """Every RRset of the given message sections with its RRSIGs (OPT and RRSIGs themselves
    are not RRsets to validate)."""
    rrsets = [r for section in sections for r in section]
    sigs: dict[tuple[dns.name.Name, int], list[RRSIG]] = {}
    for rrset in rrsets:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            for sig in rrset:
                sigs.setdefault((rrset.name, sig.type_covered), []).append(sig)
    return [Signed(r, tuple(sigs.get((r.name, r.rdtype), ()))) for r in rrsets
            if r.rdtype not in (dns.rdatatype.RRSIG, dns.rdatatype.OPT)]


class KeyRing:
    """DNSKEYs indexed by (key tag, algorithm), each parsed into a public key once: a zone's
    few keys verify thousands of signatures, and parsing a key costs as much as verifying."""

    def __init__(self, keys: Iterable[DNSKEY]):
        self.keys: dict[tuple[int, int], list[DNSKEY]] = {}
        for key in keys:
            self.keys.setdefault((key_tag(key), int(key.algorithm)), []).append(key)
        self._public: dict[bytes, object] = {}

    def candidates(self, rrsig: RRSIG) -> list[DNSKEY]:
        return self.keys.get((rrsig.key_tag, int(rrsig.algorithm)), [])

    def public(self, key: DNSKEY) -> object:
        """The key as `cryptography` holds it (raises UnsupportedAlgorithm, ValueError)."""
        import dns.dnssecalgs

        digest = key.to_digestable()
        if digest not in self._public:
            self._public[digest] = dns.dnssecalgs.get_algorithm_cls_from_dnskey(key).public_cls.from_dnskey(key)
        return self._public[digest]


def verifying_key(signed: Signed, rrsig: RRSIG, ring: KeyRing) -> tuple[DNSKEY | None, str]:
    """The key in `ring` that `rrsig` over `signed` verifies with, ignoring the validity
    window (`timing` judges that); else None and why ('no DNSKEY' names the tag)."""
    import dns.dnssec

    candidates = ring.candidates(rrsig)
    if not candidates:
        return None, f"no DNSKEY with tag {rrsig.key_tag} (algorithm {int(rrsig.algorithm)})"
    if rrsig.type_covered != signed.rrset.rdtype:
        return None, "the RRSIG covers another type"
    # what RFC 4034 3.1.8.1 says is signed: dnspython's own (dns.dnssec.validate_rrsig uses it too)
    data = dns.dnssec._make_rrsig_signature_data(signed.rrset, rrsig)
    why = "the signature does not validate"
    for key in candidates:
        try:
            ring.public(key).verify(rrsig.signature, data)  # type: ignore[attr-defined]
            return key, ""
        except dns.dnssec.UnsupportedAlgorithm:
            why = f"algorithm {int(rrsig.algorithm)} is not supported here"
        except ValueError:
            why = f"the DNSKEY with tag {rrsig.key_tag} is not a valid public key"
        except (dns.dnssec.InvalidSignature, dns.dnssec.ValidationFailure):
            pass
    return None, why


def timing(rrsig: RRSIG, now: float, margin: float) -> str | None:
    """'expired', 'not-yet-valid' or 'expiring' (within `margin` seconds); None when fine."""
    if rrsig.expiration < now:
        return "expired"
    if rrsig.inception > now:
        return "not-yet-valid"
    if rrsig.expiration < now + margin:
        return "expiring"
    return None


# --- denial of existence ------------------------------------------------------------------

def _nsec_covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """Whether the NSEC owner -> next interval covers `name` (canonical order, the last
    NSEC wraps to the apex)."""
    if owner < nxt:
        return owner < name < nxt
    return name > owner or name < nxt  # the last NSEC of the zone


def _common(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    """The longest common ancestor of two names."""
    shared = a.fullcompare(b)[2]  # labels in common, the root's included
    return dns.name.Name(a.labels[len(a.labels) - shared:])


def _types(rdata: object) -> set[int]:
    return {t for window, bitmap in rdata.windows for i, byte in enumerate(bitmap)  # type: ignore[attr-defined]
            for bit in range(8) if byte & (0x80 >> bit) for t in [window * 256 + i * 8 + bit]}


def nsec_nxdomain(qname: dns.name.Name, zone: dns.name.Name, nsecs: list[dns.rrset.RRset]) -> str | None:
    """Why the NSEC records do not prove that `qname` does not exist (None: they do)."""
    covering = next((n for n in nsecs for r in n if _nsec_covers(n.name, r.next, qname)), None)
    if covering is None:
        return f"no NSEC covers {qname}"
    nxt = covering[0].next
    encloser = max(_common(qname, covering.name), _common(qname, nxt), key=len)
    if not encloser.is_subdomain(zone):
        encloser = zone
    wildcard = dns.name.Name((b"*", *encloser.labels))
    if not any(_nsec_covers(n.name, r.next, wildcard) for n in nsecs for r in n):
        return f"no NSEC proves that {wildcard} does not exist"
    return None


def nsec_nodata(qname: dns.name.Name, qtype: int, nsecs: list[dns.rrset.RRset]) -> str | None:
    """Why the NSEC records do not prove that `qname` has no `qtype` (None: they do)."""
    match = next((n for n in nsecs if n.name == qname), None)
    if match is None:
        return f"no NSEC at {qname}"
    types = _types(match[0])
    if qtype in types or dns.rdatatype.CNAME in types:
        return f"the NSEC at {qname} lists {dns.rdatatype.to_text(qtype)} or CNAME"
    return None


def _nsec3_hash(name: dns.name.Name, rdata: object) -> str:
    import dns.dnssec

    return dns.dnssec.nsec3_hash(name, rdata.salt, rdata.iterations,  # type: ignore[attr-defined]
                                 rdata.algorithm).lower()  # type: ignore[attr-defined]


def _nsec3_entries(nsec3s: list[dns.rrset.RRset]) -> list[tuple[str, str, object]]:
    """(owner hash, next hash, rdata), hashes in base32hex lower case."""
    found = []
    for rrset in nsec3s:
        for rdata in rrset:
            nxt = base64.b32hexencode(rdata.next).decode().lower().rstrip("=")
            found.append((rrset.name.labels[0].decode().lower(), nxt, rdata))
    return found


def _nsec3_match(name: dns.name.Name, entries: list[tuple[str, str, object]]) -> object | None:
    return next((rdata for owner, _, rdata in entries if owner == _nsec3_hash(name, rdata)), None)


def _nsec3_covers(name: dns.name.Name, entries: list[tuple[str, str, object]]) -> bool:
    for owner, nxt, rdata in entries:
        hashed = _nsec3_hash(name, rdata)
        if (owner < hashed < nxt) if owner < nxt else (hashed > owner or hashed < nxt):
            return True
    return False


def nsec3_nxdomain(qname: dns.name.Name, zone: dns.name.Name, nsec3s: list[dns.rrset.RRset]) -> str | None:
    """Why the NSEC3 records do not prove that `qname` does not exist (RFC 5155 8.4)."""
    entries = _nsec3_entries(nsec3s)
    if not entries:
        return "no NSEC3 records"
    encloser, next_closer = qname.parent(), qname
    while encloser.is_subdomain(zone) and _nsec3_match(encloser, entries) is None:
        encloser, next_closer = encloser.parent(), encloser
    if not encloser.is_subdomain(zone):
        return f"no NSEC3 matches a closest encloser of {qname}"
    if not _nsec3_covers(next_closer, entries):
        return f"no NSEC3 covers the next closer name {next_closer}"
    wildcard = dns.name.Name((b"*", *encloser.labels))
    if not _nsec3_covers(wildcard, entries):
        return f"no NSEC3 proves that {wildcard} does not exist"
    return None


def nsec3_nodata(qname: dns.name.Name, qtype: int, nsec3s: list[dns.rrset.RRset]) -> str | None:
    """Why the NSEC3 records do not prove that `qname` has no `qtype` (RFC 5155 8.5)."""
    match = _nsec3_match(qname, _nsec3_entries(nsec3s))
    if match is None:
        return f"no NSEC3 matches {qname}"
    types = _types(match)
    if qtype in types or dns.rdatatype.CNAME in types:
        return f"the NSEC3 of {qname} lists {dns.rdatatype.to_text(qtype)} or CNAME"
    return None


def denial_problem(qname: dns.name.Name, qtype: int, zone: dns.name.Name, nxdomain: bool,
                   authority: Sequence[dns.rrset.RRset]) -> str | None:
    """Why a negative answer's authority section does not prove it (None: it does)."""
    nsecs = [r for r in authority if r.rdtype == dns.rdatatype.NSEC]
    nsec3s = [r for r in authority if r.rdtype == dns.rdatatype.NSEC3]
    if not nsecs and not nsec3s:
        return "no NSEC or NSEC3 records in the answer"
    if nsec3s:
        return nsec3_nxdomain(qname, zone, nsec3s) if nxdomain else nsec3_nodata(qname, qtype, nsec3s)
    return nsec_nxdomain(qname, zone, nsecs) if nxdomain else nsec_nodata(qname, qtype, nsecs)
