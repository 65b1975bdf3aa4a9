"""Online DNSSEC signing for the embedded server (dnspython's `dns.dnssec`).

The embedded server signs a zone as a hosted provider does: with its own keys (a
KSK and a ZSK, ECDSAP256SHA256, per zone), at answer time. That makes it the
second signer of a multi-signer pair (RFC 8901 model 2) beside BIND in the lab
and in `make demo`, so the key exchange and verify's checks have a signer whose
faults can be switched on (a broken or an expired RRSIG, see faults.py).

What a signed zone serves, to a query with the DO bit:
* the DNSKEY RRset at the apex: its own two keys plus every DNSKEY its provider
  added by RFC 2136 (the other signers' ZSKs), signed with its KSK;
* an RRSIG by its ZSK over every authoritative RRset it answers, also over a
  wildcard's synthesised answer (signed as the wildcard, RFC 4035 5.3.4);
* NSEC denial (RFC 4035 3.1.3): the NSEC at the name for NODATA, NSECs covering
  the name and the wildcard for NXDOMAIN, the NSEC at a delegation without DS.

Answers are built from an immutable signed view of each zone version (the DNSKEY
RRset merged, an NSEC chain added), made once per version, and signatures are
cached per view, so a query costs a dictionary lookup, not a signing operation,
once an RRset has been asked. Keys are kept in `<data_dir>/keys/` (0600), so a
server restarted with the same data directory signs with the same keys, and the
DS at the parent stays right.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dns.name import Name
from dns.rdataset import Rdataset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.NSEC import NSEC, Bitmap
from dns.rdtypes.ANY.RRSIG import RRSIG

from dnssync.embedded.answer import Sections
from dnssync.embedded.zonedata import ZoneData, rrset
from dnssync.model.dnskeys import SEP_FLAG, ZONE_FLAG

ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256
#: how long a signature is valid, and how early before that it is made again
VALIDITY = 14 * 86400
RESIGN = 7 * 86400
#: how far back a signature's inception is put, for clocks a little behind
INCEPTION_SLACK = 3600
_DNSKEY = dns.rdatatype.DNSKEY
_NSEC, _RRSIG, _DS, _NS = dns.rdatatype.NSEC, dns.rdatatype.RRSIG, dns.rdatatype.DS, dns.rdatatype.NS

#: the RRSIG faults (faults.py `rrsig`): a signature that does not validate, one that has expired
BROKEN, EXPIRED = "broken", "expired"
RRSIG_FAULTS = (BROKEN, EXPIRED)


@dataclass(frozen=True)
class ZoneKeys:
    """One zone's own key pair set: the KSK signs the DNSKEY RRset, the ZSK the rest."""

    ksk_private: ec.EllipticCurvePrivateKey
    zsk_private: ec.EllipticCurvePrivateKey

    @property
    def ksk(self) -> DNSKEY:
        return dns.dnssec.make_dnskey(self.ksk_private.public_key(), ALGORITHM, ZONE_FLAG | SEP_FLAG)

    @property
    def zsk(self) -> DNSKEY:
        return dns.dnssec.make_dnskey(self.zsk_private.public_key(), ALGORITHM, ZONE_FLAG)

    @classmethod
    def generate(cls) -> ZoneKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1()))

    def to_json(self) -> str:
        def pem(key: ec.EllipticCurvePrivateKey) -> str:
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return json.dumps({"algorithm": ALGORITHM.name, "ksk": pem(self.ksk_private),
                           "zsk": pem(self.zsk_private)})

    @classmethod
    def from_json(cls, text: str) -> ZoneKeys:
        data = json.loads(text)
        keys = [serialization.load_pem_private_key(data[k].encode(), None) for k in ("ksk", "zsk")]
        if not all(isinstance(k, ec.EllipticCurvePrivateKey) for k in keys):
            raise ValueError("not ECDSA P-256 keys")
        return cls(*keys)  # type: ignore[arg-type]


class KeyStore:
    """Each zone's keys: made on first use, kept in `folder` (when given) across restarts."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._keys: dict[Name, ZoneKeys] = {}

    def keys(self, origin: Name) -> ZoneKeys:
        found = self._keys.get(origin)
        if found is not None:
            return found
        path = self.folder / f"{origin.to_text().lower()}keys.json" if self.folder else None
        if path is not None and path.exists():
            found = ZoneKeys.from_json(path.read_text())
        else:
            found = ZoneKeys.generate()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(found.to_json())
                os.replace(tmp, path)
        self._keys[origin] = found
        return found


def _bitmap(types: set[int]) -> tuple:
    return Bitmap.from_rdtypes(sorted(types)).windows  # type: ignore[arg-type]


class SignedZone:
    """One version of a zone as served signed: the view answers come from (DNSKEY RRset
    merged, NSEC chain added) and the signatures made over it so far."""

    def __init__(self, source: ZoneData, keys: ZoneKeys, dnskey_ttl: int):
        self.source = source
        self.keys = keys
        origin = source.origin
        ttl = dnskey_ttl
        dnskeys = dns.rdataset.Rdataset(dns.rdataclass.IN, _DNSKEY)
        for key in (keys.ksk, keys.zsk, *(source.get(origin, _DNSKEY) or ())):
            dnskeys.add(key)
        dnskeys.ttl = ttl
        merged = source.with_changes({origin: {_DNSKEY: dnskeys}})
        self.chain = sorted(n for n in merged.nodes if self._authoritative(merged, n))
        negative = min(source.soa.ttl, source.soa[0].minimum)
        changes: dict[Name, dict[int, Rdataset | None]] = {}
        for index, name in enumerate(self.chain):
            node = merged.nodes[name]
            types = {_NS, _DS} & set(node) if name in merged.cuts else set(node)
            nsec = NSEC(dns.rdataclass.IN, _NSEC, self.chain[(index + 1) % len(self.chain)],
                        _bitmap(types | {_NSEC, _RRSIG}))
            changes[name] = {_NSEC: dns.rdataset.from_rdata_list(negative, [nsec])}
        self.view = merged.with_changes(changes)
        self._signatures: dict[tuple[Name, int], tuple[RRSIG, float]] = {}

    @staticmethod
    def _authoritative(zone: ZoneData, name: Name) -> bool:
        """In the NSEC chain: every name but those below a delegation (glue)."""
        cut = zone.cut_at_or_above(name)
        return cut is None or cut == name

    # -- signatures ----------------------------------------------------------------

    def rrsig(self, owner: Name, rds: Rdataset, served_as: Name, fault: str | None,
              cache: bool = True) -> dns.rrset.RRset:
        """The RRSIG RRset over `rds` at `owner` (a wildcard's owner for a synthesised
        answer), served at `served_as`. Signatures of stored RRsets are cached until
        they come near their expiry; `fault` breaks them (faults.py `rrsig`)."""
        now = time.time()
        if fault == EXPIRED:  # a week ago: beyond the clock skew validators allow (Unbound: up to a day)
            sig = self._sign(owner, rds, now - 37 * 86400, now - 7 * 86400)
        else:
            cached = self._signatures.get((owner, rds.rdtype)) if cache else None
            if cached is None or cached[1] - now < RESIGN:
                expiration = now + VALIDITY
                cached = (self._sign(owner, rds, now - INCEPTION_SLACK, expiration), expiration)
                if cache:
                    self._signatures[(owner, rds.rdtype)] = cached
            sig = cached[0]
            if fault == BROKEN:
                signature = bytearray(sig.signature)
                signature[-1] ^= 0xFF
                sig = sig.replace(signature=bytes(signature))
        out = dns.rrset.RRset(served_as, dns.rdataclass.IN, _RRSIG)
        out.add(sig, rds.ttl)
        return out

    def _sign(self, owner: Name, rds: Rdataset, inception: float, expiration: float) -> RRSIG:
        ksk = rds.rdtype == _DNSKEY
        private = self.keys.ksk_private if ksk else self.keys.zsk_private
        public = self.keys.ksk if ksk else self.keys.zsk
        return dns.dnssec.sign((owner, rds), private, self.source.origin, public,
                               inception=int(inception), expiration=int(expiration))

    # -- answers ---------------------------------------------------------------------

    def covering(self, name: Name) -> dns.rrset.RRset:
        """The NSEC whose span covers `name` (the last chain name before it, wrapping)."""
        before = self.chain[-1]
        for owner in self.chain:
            if owner >= name:
                break
            before = owner
        return rrset(before, self.view.nodes[before][_NSEC])

    def wildcard_of(self, name: Name) -> Name:
        return Name(("*", *self.view.closest_encloser(name).labels))

    def add_dnssec(self, result: Sections, qname: Name, qtype: int, fault: str | None) -> None:
        """Add the RRSIGs and NSEC proofs a DO query gets to `result` (from `self.view`)."""
        view = self.view
        name = qname
        for rr in result.answer:  # follow the CNAMEs answered to the name the answer ends at
            if rr.name == name and rr.rdtype == dns.rdatatype.CNAME:
                name = rr[0].target
        inside = name.is_subdomain(view.origin)
        denial = [self.covering(rr.name) for rr in result.answer  # a wildcard answered it
                  if rr.name.is_subdomain(view.origin) and rr.name not in view.names]
        if result.rcode == dns.rcode.NXDOMAIN and inside:
            denial += [self.covering(name), self.covering(self.wildcard_of(name))]
        elif (result.rcode == dns.rcode.NOERROR and inside and result.authority
              and result.authority[0].rdtype == dns.rdatatype.SOA):  # NODATA
            if name in view.nodes:
                denial.append(rrset(name, view.nodes[name][_NSEC]))
            else:  # an empty non-terminal, or a wildcard's NODATA
                denial.append(self.covering(name))
                wildcard = self.wildcard_of(name)
                if name not in view.names and wildcard in view.nodes:
                    denial.append(rrset(wildcard, view.nodes[wildcard][_NSEC]))
        elif not result.authoritative and result.authority:  # a referral: DS, or the proof of none
            cut = result.authority[0].name
            ds = view.get(cut, _DS)
            denial.append(rrset(cut, ds) if ds is not None else rrset(cut, view.nodes[cut][_NSEC]))
        result.authority += [d for i, d in enumerate(denial) if d not in denial[:i]]
        result.answer = self._signed(result.answer, fault)
        result.authority = self._signed(result.authority, fault)

    def _signed(self, rrsets: list[dns.rrset.RRset], fault: str | None) -> list[dns.rrset.RRset]:
        """Each RRset followed by its RRSIG, where this zone is authoritative for it."""
        out: list[dns.rrset.RRset] = []
        view = self.view
        for rr in rrsets:
            out.append(rr)
            if not rr.name.is_subdomain(view.origin) or (rr.rdtype == _NS and rr.name in view.cuts):
                continue  # another zone's data, or a delegation's NS (the child's, never signed here)
            owner = rr.name if rr.name in view.names else self.wildcard_of(rr.name)
            stored = view.get(owner, rr.rdtype)
            if stored is not None and stored.ttl == rr.ttl and set(stored) == set(rr):
                out.append(self.rrsig(owner, stored, rr.name, fault))
            else:  # served other than stored (an expanded ALIAS): signed as served, uncached
                served = dns.rdataset.from_rdata_list(rr.ttl, list(rr))
                out.append(self.rrsig(owner, served, rr.name, fault, cache=False))
        return out


@dataclass
class Signer:
    """The signed zones of one server: which zones it signs, their keys, their views."""

    store: KeyStore
    signs: Callable[[str], bool] = lambda zone: True  # which zones (by name, "example.com.") it signs
    dnskey_ttl: int = 3600
    _zones: dict[Name, SignedZone] = field(default_factory=dict)
    _views: tuple[Mapping[Name, ZoneData], dict[Name, ZoneData]] | None = None

    def signed(self, origin: Name) -> bool:
        return self.signs(origin.to_text().lower())

    def zone(self, source: ZoneData) -> SignedZone:
        current = self._zones.get(source.origin)
        if current is None or current.source is not source:
            current = self._zones[source.origin] = SignedZone(source, self.store.keys(source.origin), self.dnskey_ttl)
        return current

    def views(self, zones: Mapping[Name, ZoneData]) -> Mapping[Name, ZoneData]:
        """The zones as answered: each signed zone's view in place of its data (cached
        for as long as `zones` is the same object: the server swaps it on every change)."""
        if self._views is not None and self._views[0] is zones:
            return self._views[1]
        views = {origin: self.zone(zone).view if self.signed(origin) else zone
                 for origin, zone in zones.items()}
        self._views = (zones, views)
        return views
