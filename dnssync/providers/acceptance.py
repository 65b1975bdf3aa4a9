"""What a provider's server refuses although DNS allows it: acceptance rules as data.

Servers enforce rules of their own on top of the RFCs, and a record that breaks
one is refused at apply time (BIND: REFUSED or SERVFAIL; PowerDNS: HTTP 422),
after validate and plan said it was fine. Each rule here says which records it
refuses, what the server answers, and the server option that changes it, so the
plan names the record as "cannot hold" at that provider before anything is sent
and the rest of the zone is still applied (see capabilities.served_zone).

The rules were found against the lab's real servers (tests/test_apply_truth_lab.py holds them to it):

* `check_names` (BIND 9, on by default for primary zones): the owner of an
  A/AAAA/MX record and the target of an MX/NS/SRV record must be a host name
  (letters, digits, inner hyphens; a leading `*` label for owners). An update
  carrying `_acme-challenge.docs A` or `MX 10 mail_x.example.com.` is REFUSED.
  Option: `check-names primary ignore;` (or `warn`).
* `max_records_per_type` (BIND 9.18.28 and later, 100 by default): an RRset
  with more records is refused with SERVFAIL. Option: `max-records-per-type`.
* `hostname_targets` (PowerDNS 4.5 and later): an MX, NS or SRV whose target is
  not a host name is refused with HTTP 422 "non-hostname content". No option.
* `apex_cname` (every server in the lab): a CNAME at the zone apex, which octoDNS
  takes under `lenient` (zones written for providers that flatten it), sits beside
  the SOA and NS. BIND, Knot and the embedded server answer NOERROR and drop it
  (RFC 2136 3.4.2.2); PowerDNS refuses it with HTTP 422.

Knot 3.2 accepted all of the above but the apex CNAME. A provider class lists the rules its server
applies (`ACCEPTANCE`, with the server's default); a provider file overrides or
adds them under `capabilities:` (`check_names: false` once named.conf says
`check-names primary ignore;`, `max_records_per_type: 500`), since the server's
configuration is the user's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from octodns.record import Record

from dnssync.model.records import pointed_names

#: the characters of a host name (RFC 952/1123 as BIND's and PowerDNS's checks read it):
#: labels of letters, digits and inner hyphens
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
_TARGET_TYPES = frozenset(("MX", "NS", "SRV"))
_OWNER_TYPES = frozenset(("A", "AAAA", "MX"))


def is_hostname(name: str, wildcard: bool = False) -> bool:
    """A host name as BIND's and PowerDNS's checks define it; `wildcard` allows a
    leading `*` label. The root (`.`, a null MX or SRV target) and the apex ('') are."""
    if wildcard and (name == "*" or name.startswith("*.")):
        name = name[2:]
    if name.endswith("."):
        name = name[:-1]
    # string operations only: this runs for most records of every zone planned for BIND
    return not name or (_HOST_CHARS.issuperset(name) and ".." not in name and "-." not in name
                        and ".-" not in name and name[0] not in "-." and name[-1] not in "-.")


@lru_cache(maxsize=64)
def _zone_is_hostname(zone_name: str) -> bool:
    return is_hostname(zone_name)


def _bad_targets(record: Record) -> list[str]:
    """The MX, NS and SRV targets PowerDNS judges (never a CNAME's or PTR's)."""
    if record._type not in ("MX", "NS", "SRV"):
        return []
    return [t for t in pointed_names(record) if not _target_is_hostname(t)]


@lru_cache(maxsize=4096)
def _target_is_hostname(target: str) -> bool:  # a zone's targets repeat (mail, www...)
    return is_hostname(target)


def _check_names(record: Record, setting: Any) -> str | None:
    if record._type in _OWNER_TYPES and not (is_hostname(record.name, wildcard=True)
                                             and _zone_is_hostname(record.zone.name)):
        return f"its owner name {record.fqdn} is not a host name"
    return _hostname_targets(record, setting)


def _apex_cname(record: Record, setting: Any) -> str | None:
    return "it is a CNAME at the zone apex, beside the SOA and NS every zone has" if record.name == "" else None


def _max_records(record: Record, setting: Any) -> str | None:
    count = len(record.__dict__.get("values") or ())
    return f"it has {count} records, over the limit of {setting}" if setting and count > setting else None


def _hostname_targets(record: Record, setting: Any) -> str | None:
    if record._type not in _TARGET_TYPES:
        return None
    bad = _bad_targets(record)
    return f"its target {', '.join(bad)} is not a host name" if bad else None


@dataclass(frozen=True)
class Rule:
    """One server rule: the records it refuses, how, and what changes it."""

    key: str  # the capability key (provider file `capabilities:`)
    server: str
    answer: str  # what the server answers such an update
    option: str  # the server option that changes it, in words
    judge: Callable[[Record, Any], str | None]  # why `record` is refused, or None
    types: frozenset[str] | None = None  # the only types it judges (None: all)

    def reason(self, record: Record, setting: Any) -> str | None:
        """The plan's "cannot hold" reason for `record` under `setting`, or None."""
        if not setting:
            return None
        why = self.judge(record, setting)
        if why is None:
            return None
        return f"{self.server} refuses it ({self.answer}, rule {self.name}): {why}; {self.option}"

    @property
    def name(self) -> str:
        return self.key.replace("_", "-")


RULES: dict[str, Rule] = {rule.key: rule for rule in (
    Rule("check_names", "BIND", "REFUSED",
         "`check-names primary ignore;` in named.conf allows it (then set capabilities:"
         " {check_names: false} in the provider's file)", _check_names, _OWNER_TYPES | _TARGET_TYPES),
    Rule("max_records_per_type", "BIND", "SERVFAIL",
         "raise `max-records-per-type` in named.conf (0: no limit; then set capabilities:"
         " {max_records_per_type: N} in the provider's file)", _max_records),
    Rule("apex_cname", "every DNS server", "BIND, Knot and the embedded server answer NOERROR and keep the SOA and"
         " NS; PowerDNS answers HTTP 422", "no server setting allows it (RFC 1034 3.6.2): use an ALIAS, which"
         " dnssync flattens where a provider cannot hold it", _apex_cname, frozenset(("CNAME",))),
    Rule("hostname_targets", "PowerDNS", "HTTP 422 non-hostname content",
         "no PowerDNS setting allows it: point it at a host name", _hostname_targets,
         _TARGET_TYPES),
)}
#: capability keys of the rules that are on/off, and those that are a limit (0: none)
FLAGS = ("check_names", "hostname_targets", "apex_cname")
LIMITS = {"max_records_per_type": (0, 2**31 - 1)}


def settings(defaults: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """Each rule's setting for a provider: its class's defaults, overridden by its file."""
    return {key: declared.get(key, defaults.get(key)) for key in RULES}


def refusal(record: Record, rules: dict[str, Any]) -> str | None:
    """Why a server with these rule settings (the rules that are on) refuses `record`
    (the first rule that does). Called for every record of every zone: kept lean."""
    for key, setting in rules.items():
        rule = RULES[key]
        if (rule.types is None or record._type in rule.types) and rule.judge(record, setting) is not None:
            return rule.reason(record, setting)
    return None
