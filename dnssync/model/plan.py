"""The plan as data: per provider and zone, what apply would change.

Like Terraform's plan, a `Plan` is serialisable (`plan --save-plan plan.json`),
checksummed, and consumed by apply. It records the desired content it was made
from and a digest of each provider's live state, so `apply --plan` can apply
exactly what was reviewed and refuse when a provider changed in between. Making
one is the planner's job (`dnssync.planning.planner`); this module is only the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from octodns.record import Create, Delete

from dnssync.model.binding import plan_key, signature, signature_problem
from dnssync.model.canonjson import Pieces, canonical, joined, pieces, sha256_of
from dnssync.model.errors import UsageError
from dnssync.model.findings import Finding
from dnssync.model.records import (
    rrset_data,
    rrset_text,
)

FORMAT_VERSION = 1


@dataclass
class Change:
    action: str  # create | update | delete
    name: str  # relative to the zone, '' for the apex
    type: str
    existing: dict[str, Any] | None = None  # {"ttl": int, "values": [rdata text]}
    desired: dict[str, Any] | None = None
    # where git defines the record (not part of equality: a reviewed plan is compared by content)
    file: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)
    #: a flattened ALIAS: where the values come from (flatten.Flattened.origin)
    flattened: dict[str, Any] | None = field(default=None, compare=False)
    #: where a change comes from when not from git (a DNSKEY of the key exchange: whose key)
    note: str | None = None

    @property
    def origin(self) -> str:
        """`A flattened from ALIAS → cdn.example. (resolved at T via R)` for a flattened
        change, the note of a DNSKEY change, '' for one that comes from git as it is."""
        f = self.flattened
        if self.note:
            return self.note
        return "" if not f else (f"{self.type} flattened from {f['from']} → {f['target']}"
                                 f" (resolved at {f['resolved_at']} via {f['via']})")

    @property
    def summary(self) -> str:
        """`update www A 60 192.0.2.2`: the change on one line (annotations, reports)."""
        return f"{self.action} {self.name or '@'} {self.type} {rrset_text(self.desired or self.existing)}".rstrip()

    @classmethod
    def from_octodns(cls, change) -> Change:
        action = {Create: "create", Delete: "delete"}.get(type(change), "update")
        return cls(
            action,
            change.record.name,
            change.record._type,
            rrset_data(change.existing) if change.existing else None,
            rrset_data(change.new) if change.new else None,
        )


@dataclass
class Adjustment:
    """A record a provider will not serve as git says: dropped or served differently."""

    kind: str  # unsupported | adjusted
    name: str
    type: str
    reason: str
    desired: dict[str, Any]  # as git says, {"ttl", "values"[, "dynamic"]}
    served: dict[str, Any] | None = None  # as the provider will serve it; None: not at all


@dataclass
class ProviderPlan:
    provider: str
    zone: str
    exists: bool | None = None
    changes: list[Change] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    existing_count: int = 0
    existing_digest: str | None = None
    unsafe: str | None = None  # why apply needs --force
    error: str | None = None
    #: DNSKEY changes of a multi-signer zone's key exchange (planning/keyplan.py), applied by
    #: applying/keyexchange.py after the records, never through the octoDNS provider
    keys: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in (*self.changes, *self.keys):
            counts[change.action] += 1
        return counts


@dataclass
class Plan:
    zones: dict[str, list[dict[str, Any]]]  # zone -> desired records (octoDNS data + name)
    providers: list[ProviderPlan]
    findings: list[Finding] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    revision: str | None = None
    base: str | None = None  # `plan --base REV`: the revision the changes are relative to
    format_version: int = FORMAT_VERSION
    repository: dict[str, str] | None = None  # binding.repository_digest of the repository it was made in
    flattened: list[dict[str, Any]] = field(default_factory=list)  # flatten.Flattened as data

    @property
    def has_changes(self) -> bool:
        return any(p.changes or p.keys for p in self.providers)

    @property
    def errors(self) -> list[ProviderPlan]:
        return [p for p in self.providers if p.error]

    def for_provider(self, provider: str, zone: str) -> ProviderPlan | None:
        return next((p for p in self.providers if p.provider == provider and p.zone == zone), None)

    def _body(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "created": self.created,
            "revision": self.revision,
            "repository": self.repository,
            "base": self.base,
            "zones": self.zones,
            "providers": [_provider_data(p) for p in self.providers],
            "findings": [f.to_dict() for f in self.findings],
            "flattened": self.flattened,
        }

    @property
    def checksum(self) -> str:
        return _checksum(self._body())

    def sealed_pieces(self) -> Pieces:
        """`to_dict`'s content as canonical pieces (canonjson.py), the body serialised
        once: what an apply record embeds without serialising the plan again."""
        parts = pieces(self._body())
        checksum = sha256_of(joined(parts))
        parts["checksum"] = canonical(checksum)
        key = plan_key()
        if key is not None:
            parts["signature"] = canonical(signature(checksum, key))
        return parts

    def sealed_text(self) -> str:
        """`to_dict()` as canonical JSON text (canonjson.py), serialised once."""
        return joined(self.sealed_pieces())

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON data, sealed (checksum, and signature when DNSSYNC_PLAN_KEY
        is set): what `to_json` writes and an apply record embeds."""
        body = self._body()  # once: a fleet's plan holds tens of thousands of changes
        sealed = {"checksum": _checksum(body)}
        key = plan_key()
        if key is not None:
            sealed["signature"] = signature(sealed["checksum"], key)
        return {**body, **sealed}

    def to_json(self) -> str:
        """The plan file a reviewer reads (`plan --save-plan`): indented."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "plan") -> Plan:
        try:
            data = json.loads(text)
            problem = shape_problem(data)
            if problem:
                raise UsageError(f"{source} is not a dnssync plan: {problem} (nothing was sent)")
            plan = cls(
                zones=data["zones"],
                providers=[_provider_plan(p) for p in data["providers"]],
                findings=[Finding.from_dict(f) for f in data.get("findings", [])],
                created=data["created"],
                revision=data.get("revision"),
                repository=data.get("repository"),
                base=data.get("base"),
                format_version=data["format_version"],
                flattened=data.get("flattened", []),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"{source} is not a dnssync plan: {type(e).__name__}: {e} (nothing was sent)") from None
        if plan.format_version != FORMAT_VERSION:
            raise UsageError(f"{source} has plan format {plan.format_version}, this dnssync reads"
                             f" {FORMAT_VERSION}")
        if data.get("checksum") != plan.checksum:
            raise UsageError(f"{source} was modified after it was made (checksum mismatch)")
        problem = signature_problem(plan.checksum, data.get("signature"))
        if problem:
            raise UsageError(f"{source}: {problem}")
        return plan


def _checksum(body: dict[str, Any]) -> str:
    return sha256_of(canonical(body))


_OPTIONAL_STR = (str, type(None))


_RRSET = (dict, type(None))


#: what each object of a saved plan holds: key -> (allowed JSON types, required)
_SHAPES: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "plan": {"format_version": ((int,), True), "created": ((str,), True), "zones": ((dict,), True),
             "providers": ((list,), True), "findings": ((list,), False), "flattened": ((list,), False),
             "revision": (_OPTIONAL_STR, False), "base": (_OPTIONAL_STR, False),
             "repository": ((dict, type(None)), False), "checksum": ((str,), False), "signature": ((str,), False)},
    "provider": {"provider": ((str,), True), "zone": ((str,), True), "exists": ((bool, type(None)), False),
                 "changes": ((list,), True), "adjustments": ((list,), True), "existing_count": ((int,), False),
                 "existing_digest": (_OPTIONAL_STR, False), "unsafe": (_OPTIONAL_STR, False),
                 "error": (_OPTIONAL_STR, False), "keys": ((list,), False)},
    "change": {"action": ((str,), True), "name": ((str,), True), "type": ((str,), True),
               "existing": (_RRSET, False), "desired": (_RRSET, False), "file": (_OPTIONAL_STR, False),
               "line": ((int, type(None)), False), "flattened": ((dict, type(None)), False),
               "note": (_OPTIONAL_STR, False)},
    "adjustment": {"kind": ((str,), True), "name": ((str,), True), "type": ((str,), True),
                   "reason": ((str,), True), "desired": ((dict,), True), "served": (_RRSET, False)},
    "finding": {"severity": ((str,), True), "code": ((str,), True), "message": ((str,), True),
                "zone": (_OPTIONAL_STR, False), "name": (_OPTIONAL_STR, False), "type": (_OPTIONAL_STR, False),
                "provider": (_OPTIONAL_STR, False), "nameserver": (_OPTIONAL_STR, False),
                "expected": ((object,), False), "observed": ((object,), False), "file": (_OPTIONAL_STR, False),
                "line": ((int, type(None)), False), "extra": ((dict,), False)},
}


def _object_problem(value: Any, kind: str, where: str) -> str | None:
    """Why `value` is not a JSON object of `kind` (see _SHAPES), or None."""
    if not isinstance(value, dict):
        return f"{where} is {type(value).__name__}, not an object"
    shape = _SHAPES[kind]
    unknown = sorted(str(k) for k in value if k not in shape)
    if unknown:
        return f"{where} has unknown key(s) {', '.join(unknown)}"
    for key, (types, required) in shape.items():
        if key not in value:
            if required:
                return f"{where} lacks {key!r}"
        elif not isinstance(value[key], types) or (isinstance(value[key], bool) and bool not in types):
            return f"{where}.{key} is {type(value[key]).__name__}"
    if kind == "change" and value["action"] not in ("create", "update", "delete"):
        return f"{where}.action is {value['action']!r}, not create, update or delete"
    for key in ("existing", "desired", "served"):
        rrset = value.get(key) if kind in ("change", "adjustment") else None
        if rrset is not None and not (isinstance(rrset.get("ttl"), int) and isinstance(rrset.get("values"), list)
                                      and all(isinstance(v, str) for v in rrset["values"])):
            return f"{where}.{key} is not {{ttl: int, values: [text]}}"
    return None


def shape_problem(data: Any) -> str | None:
    """Why a decoded saved plan does not have the shape this dnssync writes, or None.
    Checked before anything is built from it: a hand-edited or hostile file is bad
    input (UsageError, exit 2), never an internal error."""
    problem = _object_problem(data, "plan", "the plan")
    if problem:
        return problem
    for zone, records in data["zones"].items():
        if not isinstance(records, list) or not all(isinstance(r, dict) and isinstance(r.get("name"), str)
                                                    and isinstance(r.get("type"), str) for r in records):
            return f"zones.{zone} is not a list of records (objects with a name and a type)"
    for i, provider in enumerate(data["providers"]):
        problem = _object_problem(provider, "provider", f"providers[{i}]")
        for kind, key in (("change", "changes"), ("adjustment", "adjustments"), ("change", "keys")):
            for j, item in enumerate(provider.get(key, []) if not problem else []):
                problem = problem or _object_problem(item, kind, f"providers[{i}].{key}[{j}]")
        if problem:
            return problem
    for i, finding in enumerate(data.get("findings", [])):
        problem = _object_problem(finding, "finding", f"findings[{i}]")
        if problem:
            return problem
    bad = next((i for i, f in enumerate(data.get("flattened", [])) if not isinstance(f, dict)), None)
    return None if bad is None else f"flattened[{bad}] is not an object"


def _provider_data(pp: ProviderPlan) -> dict[str, Any]:
    """A pair's plan as JSON data; the DNSKEY fields only where a key exchange is planned,
    so a plan without one is the same document (and checksum) as before they existed.
    `asdict`'s keys and values without its deep copies (the JSON encoder copies nothing):
    a fraction of the time for a fleet's plan of tens of thousands of changes."""
    data = dict(pp.__dict__)
    data["changes"] = [_change_data(c) for c in pp.changes]
    data["adjustments"] = [dict(a.__dict__) for a in pp.adjustments]
    if pp.keys:
        data["keys"] = [_change_data(c) for c in pp.keys]
    else:
        del data["keys"]
    return data


def _change_data(change: Change) -> dict[str, Any]:
    data = dict(change.__dict__)
    if data["note"] is None:
        del data["note"]
    return data


def _provider_plan(data: dict[str, Any]) -> ProviderPlan:
    return ProviderPlan(
        **{k: v for k, v in data.items() if k not in ("changes", "adjustments", "keys")},
        changes=[Change(**c) for c in data["changes"]],
        keys=[Change(**c) for c in data.get("keys", [])],
        adjustments=[Adjustment(**a) for a in data["adjustments"]],
    )


