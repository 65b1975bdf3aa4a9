"""The one findings model every judging stage produces.

validate, plan (parity), verify, drift and watch all report what they found as
`Finding`s; reporters render them and the CLI turns them into an exit code.
Codes are stable identifiers that users grep for and CI dashboards group by, so
every code lives in `CODES` with a one-line meaning (docs/findings.md lists them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: Every finding code with what it means. Adding a code here documents it.
CODES: dict[str, str] = {
    # configuration and zone files (validate; any error here means exit 2)
    "config.no-repository": "No dnssync.yaml at the given path, or (by default) here or in any parent folder.",
    "config.yaml": "A file is not valid YAML/JSON, or has a duplicate key.",
    "config.schema": "A key is unknown, missing or has the wrong kind of value.",
    "config.env-missing": "An `env/VAR` value names an environment variable that is not set.",
    "config.secret-inline": "A secret is written in the file instead of `env/VAR`.",
    "config.provider-class": "A provider class does not import or does not accept its options.",
    "config.provider-nameservers": "A provider lists no nameservers, so nothing can verify it.",
    "config.zone-unserved": "A zone file exists that no provider serves.",
    "config.zone-unknown": "A provider lists a zone that has no zone file.",
    "config.zone-skipped": "A file or folder in the zones folder is not a zone (as octoDNS reads it): not"
                           " loaded, with why (an octoDNS config, a fragment, an undeclared zone).",
    "zone.key-order": "Keys are not in octoDNS's natural order: an error when enforce_order is true (octoDNS's"
                      " default), else a warning naming the setting.",
    "zone.name-unquoted": "A name written as an unquoted YAML null/boolean/number/date (`on:`): read as"
                          " written, never the apex; quote it.",
    "zone.relative-target": "A CNAME/MX/NS/SRV/PTR/ALIAS/DNAME target without a trailing dot: served as"
                            " the absolute name on every provider; write the dot.",
    "zone.record": "octoDNS record validation failed (type, value, name or TTL).",
    "zone.record-type": "Unknown record type.",
    "zone.duplicate": "The same name and type is defined twice.",
    "zone.cname-apex": "A CNAME at the zone apex (RFC 1912 2.4).",
    "zone.cname-other": "A CNAME beside other data at the same name (RFC 1034 3.6.2).",
    "zone.ttl-range": "A TTL outside 0 .. 2^31-1 (RFC 2181 8).",
    "zone.ttl": "A TTL written so that octoDNS would silently read another number (true, 300.7, 01234, a string).",
    "zone.size": "An RRset (or one value) too big for any DNS message (65,535 octets, RFC 1035 4.2.2).",
    "zone.name": "A name with a label over 63 octets or over 253 in all (RFC 1035 2.3.4).",
    "zone.target": "An NS/MX/SRV/CNAME target that is an address, an alias or missing.",
    "zone.subzone": "A record that belongs to a sub-zone managed in its own file.",
    "zone.occluded": "A record at or below a delegation inside the zone (not NS/DS at the cut, not glue):"
                     " no nameserver answers it authoritatively.",
    "zone.nested-delegation": "An NS delegation below another delegation in the same zone: the upper cut"
                              " hides it, servers refer at the upper one.",
    "zone.zone": "The zone as a whole fails octoDNS's zone validation.",
    "zone.apex-ns": "The zone file's apex NS differs from the union of the providers' nameservers.",
    # git workflow
    "git.zone-removed": "A zone file was removed: dnssync stops managing the zone; providers keep serving it.",
    # planning
    "plan.provider-error": "A provider's live state could not be read.",
    "plan.nameservers-pending": "`nameservers: auto`: the provider has no such zone yet, so its nameservers are"
                                " known only once apply has created it.",
    "plan.nameservers-unreadable": "`nameservers: auto`: the provider's API did not give the zone's nameservers.",
    # parity (plan and apply; error or warning by policy.parity)
    "parity.unsupported": "A provider cannot hold a record git has: it would not serve it, others would.",
    "parity.adjusted": "A provider would serve a record differently (TTL clamp, flattening, TXT chunks).",
    "parity.dnssec-foreign-keys": "A provider of a multi-signer zone cannot publish the other providers' keys"
                                  " (names the server, its version and the missing feature).",
    "parity.dnssec-unsigned": "A provider of a multi-signer zone does not sign it (no RRSIG over its SOA).",
    # multi-signer key exchange (plan and apply)
    "dnssec.keys-pending": "A multi-signer zone does not exist at a provider yet: apply creates it, then"
                           " exchanges the keys.",
    "dnssec.keys-unreadable": "A provider's DNSKEYs could not be read over DNS: no key is exchanged with it.",
    # ALIAS across providers (plan: flattening; verify: freshness)
    "alias.unresolved": "An ALIAS target did not resolve (NXDOMAIN, SERVFAIL, timeout, loop): refused, not flattened.",
    "alias.refused": "policy.alias is error and a provider cannot hold this ALIAS record.",
    "alias.conflict": "An ALIAS record cannot be flattened (A/AAAA beside it in git, or no DNS name).",
    "alias.stale": "A provider serves addresses at an ALIAS name that the target no longer resolves to.",
    "alias.unchecked": "An ALIAS target did not resolve when verifying, so its addresses were not checked.",
    # drift (dnssync drift: a provider's live state vs git)
    "drift.missing": "A record git has is missing at a provider.",
    "drift.extra": "A provider serves a record git does not have.",
    "drift.changed": "A provider's record differs from git (values or TTL).",
    "drift.zone-missing": "A provider does not have the zone at all.",
    # parent delegation (verify --delegation)
    "delegation.parent-error": "The parent's nameservers could not be found, or gave no delegation.",
    "delegation.special-use": "The zone is under a special-use name (test., example., local. ...):"
                              " no public parent exists, so its delegation is not checked.",
    "delegation.parent-differ": "The parent's nameservers disagree about the delegation.",
    "delegation.missing": "The parent's delegation lacks a provider's nameserver.",
    "delegation.extra": "The parent's delegation lists a nameserver that is no provider's.",
    "delegation.glue": "Glue missing, or differing from the zone's own A/AAAA for that name.",
    "delegation.lame": "A delegated nameserver does not answer authoritatively for the zone.",
    # DNSSEC across providers (verify --dnssec; policy.dnssec)
    "dnssec.unexpected": "policy.dnssec is unsigned but a provider serves DNSKEYs for the zone on its own.",
    "dnssec.no-dnskey": "policy.dnssec is multi-signer but a provider serves no DNSKEY RRset (it does not sign).",
    "dnssec.dnskey-differ": "The nameservers of one provider serve different DNSKEY RRsets.",
    "dnssec.algorithm": "A DNSKEY uses an algorithm resolvers must not or may not validate (RFC 8624).",
    "dnssec.unsigned-rrset": "A provider serves an RRset of a signed zone without an RRSIG.",
    "dnssec.bogus": "An RRSIG does not validate with the key it names (resolvers answer SERVFAIL).",
    "dnssec.signer-missing": "An RRSIG is made with a key missing from the provider's own DNSKEY RRset.",
    "dnssec.expired": "An RRset's only signatures have expired (resolvers answer SERVFAIL).",
    "dnssec.not-yet-valid": "An RRset's only signatures have an inception in the future.",
    "dnssec.expiring": "Signatures expire within policy.dnssec.expiry_margin (a warning).",
    "dnssec.denial": "A NXDOMAIN or NODATA answer lacks a valid NSEC/NSEC3 proof.",
    "dnssec.zsk-missing": "A provider's DNSKEY RRset lacks another provider's zone-signing key (RFC 8901):"
                          " resolvers holding that set fail on the other provider's answers.",
    "dnssec.cross-invalid": "A provider's signatures do not validate with another provider's DNSKEY set"
                            " (a cell of the multi-signer matrix).",
    "dnssec.ds-none": "A multi-signer zone has no DS at its parent: resolvers treat it as unsigned.",
    "dnssec.ds-missing": "The parent's DS set matches none of a provider's KSKs: its DNSKEY set does not validate.",
    "dnssec.ds-stale": "A DS at the parent matches no KSK any provider signs with.",
    "dnssec.cds": "CDS/CDNSKEY sets differ between providers or lack a provider's KSK.",
    # SOA side by side (dnssync soa; serials and negative TTL are verify.* codes)
    "soa.unanswered": "A provider's nameserver gives no authoritative SOA for the zone.",
    "soa.expire-short": "A provider's SOA EXPIRE is under a day.",
    # verify: what the nameservers answer, compared with git
    "verify.values": "A nameserver answers other values than git for a name and type.",
    "verify.ttl": "A nameserver answers git's values with another TTL.",
    "verify.txt-split": "A TXT answer has git's text split into different strings (same text).",
    "verify.nxdomain": "A nameserver says a name does not exist (NXDOMAIN) where git has data.",
    "verify.nodata": "A name exists but has no RRset of the type git has (NODATA).",
    "verify.referral": "A delegation is not answered with a referral to git's NS, or data is"
                       " answered with a referral.",
    "verify.glue": "A referral's glue (A/AAAA in the additional section) differs from git.",
    "verify.extra": "A provider serves a name and type that git does not have.",
    "verify.extra-unchecked": "Neither a zone transfer nor the API listed what a provider"
                              " serves, so extra records were not looked for.",
    "verify.apex-ns": "A provider's apex NS differs from the union of every provider's"
                      " nameservers.",
    "verify.soa-serial": "The nameservers of one provider answer different SOA serials.",
    "verify.negative-ttl": "Providers have different negative-cache TTLs, min(SOA MINIMUM, SOA"
                           " TTL) (RFC 2308).",
    "verify.tcp": "A nameserver answers over UDP but not over TCP (RFC 7766).",
    "verify.timeout": "A nameserver did not reply within the timeout, after every retry.",
    "verify.unreachable": "Nothing listens at a nameserver's address (port unreachable,"
                          " connection refused).",
    "verify.network": "The network to a nameserver failed (no route, connection reset).",
    "verify.refused": "A nameserver answered REFUSED (zone not configured there, or an ACL).",
    "verify.servfail": "A nameserver answered SERVFAIL (it failed to load or serve the zone).",
    "verify.rcode": "A nameserver answered another error RCODE (NOTAUTH, FORMERR, NOTIMP...).",
    "verify.non-authoritative": "A nameserver answered without AA for a zone it must serve"
                                " (lame).",
    "verify.truncated": "A UDP answer was truncated and asking over TCP failed.",
    "verify.id-mismatch": "Only replies with the wrong message ID came back.",
    "verify.wrong-question": "A reply with the query's message ID answered another question.",
    "verify.throttled": "A nameserver was slow or lossy: verify slowed down to it (this run's findings say so).",
    "verify.malformed": "A reply does not parse as a DNS message.",
    "verify.unresolvable": "A nameserver has no configured address and its name does not"
                           " resolve.",
    "verify.occluded": "A record at or below a delegation in the zone: not asked, the servers answer the"
                       " referral there (validate reports it as zone.occluded).",
    "verify.unverifiable": "A record type that is not a DNS type (ALIAS...): DNS cannot show it.",
    # watch (propagation of an apply)
    "watch.unwatchable": "A changed record's type has no wire form to compare (e.g. ALIAS).",
    "watch.apply-failed": "The watched apply failed at a provider; it may never converge.",
    "watch.unexpected-value": "A nameserver serves neither the old nor the new value of a change.",
    "watch.lagging": "At the timeout, a nameserver still does not serve a change.",
    "watch.serial-mismatch": "At the timeout, one provider's nameservers differ in SOA serial.",
    "watch.timeout": "The change was not fully propagated within --deadline (watch, apply --wait).",
    "watch.resolver-stale": "A resolver answers the old value after no cache should hold it.",
}


@dataclass(frozen=True)
class Finding:
    """One thing a stage found. Only `severity`, `code` and `message` are required;
    every other field narrows where it was found so reporters can group and
    CI annotations can point at the file and line."""

    severity: Severity
    code: str
    message: str
    zone: str | None = None  # as Repository.desired keys it: the IDNA (xn--) form of an IDN zone
    name: str | None = None
    type: str | None = None
    provider: str | None = None
    nameserver: str | None = None
    expected: Any = None
    observed: Any = None
    file: str | None = None
    line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undocumented finding code {self.code!r}")

    @property
    def location(self) -> str:
        """`file:line` when the finding comes from a file, else ''."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return {k: v for k, v in data.items() if v not in (None, {}, [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """A finding back from `to_dict()` (e.g. a command's JSON output)."""
        return cls(**{**data, "severity": Severity(data["severity"])})


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
