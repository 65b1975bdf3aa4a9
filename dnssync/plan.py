"""The plan: per provider and zone, what apply would change, as data.

Like Terraform's plan, a `Plan` is serialisable (`plan --save-plan plan.json`),
checksummed, and consumed by apply. It records the desired content it was made
from and a digest of each provider's live state, so `apply --plan` can apply
exactly what was reviewed and refuse when a provider changed in between.

Providers are read in parallel (one octoDNS `plan()` per provider and zone);
each octoDNS plan object stays beside the data (`LivePlan`) for apply to use.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from octodns.processor.base import BaseProcessor
from octodns.provider.base import BaseProvider
from octodns.provider.plan import Plan as OctoPlan
from octodns.provider.plan import UnsafePlan
from octodns.record import Create, Delete, Record
from octodns.zone import Zone

from dnssync.binding import plan_key, signature, signature_problem
from dnssync.errors import UsageError
from dnssync.findings import Finding, Severity
from dnssync.providers.capabilities import refusal_reason, served_zone
from dnssync.providers.hints import explain
from dnssync.sameness import distinct
from dnssync.secrets import redact

FORMAT_VERSION = 1


def rrset_data(record: Record) -> dict[str, Any]:
    """A record as TTL and sorted presentation-format values: how plans show values. A
    plugin's own type (`PowerDnsProvider/LUA`) may have no presentation format: its
    values are shown as JSON."""
    try:
        rrset = record.to_rrset()
    except AttributeError:  # octoDNS's value_to_rdata_text: a value class without rdata_text
        values = getattr(record, "values", None) or [getattr(record, "value", None)]
        return {"ttl": record.ttl, "values": sorted(json.dumps(_plain(v), sort_keys=True) for v in values)}
    return {"ttl": rrset.ttl, "values": sorted(rrset.rdatas)}


def _plain(value: Any) -> Any:
    """octoDNS values (dict and str subclasses, tuples) as plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def rrset_text(data: dict[str, Any] | None) -> str:
    """`{"ttl": 300, "values": [...]}` as one line, `300 192.0.2.1, 192.0.2.2` ('' for None)."""
    return "" if not data else f"{data['ttl']} " + ", ".join(data["values"])


def served_rrset(record: Record) -> dict[str, Any]:
    """What resolvers get for a record: TTL and sorted values (flagged when dynamic: the
    answer varies by client and the values are its default)."""
    data = rrset_data(record)
    if getattr(record, "dynamic", None):
        data["dynamic"] = True
    return data


def record_data(record: Record) -> dict[str, Any]:
    """A record as octoDNS YAML data (type included), JSON-safe, to rebuild it exactly."""
    data = _plain(record.data)
    data["type"] = record._type
    return data


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
    #: DNSKEY changes of a multi-signer zone's key exchange (keyplan.py), applied by
    #: keyexchange.py after the records, never through the octoDNS provider
    keys: list[Change] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        return "changes" if self.changes else "unchanged"

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
            "providers": [asdict(p) for p in self.providers],
            "findings": [f.to_dict() for f in self.findings],
            "flattened": self.flattened,
        }

    @property
    def checksum(self) -> str:
        canonical = json.dumps(self._body(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> str:
        sealed = {"checksum": self.checksum}
        key = plan_key()
        if key is not None:
            sealed["signature"] = signature(self.checksum, key)
        return json.dumps({**self._body(), **sealed}, indent=2, sort_keys=True)

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
                findings=[_finding(f) for f in data.get("findings", [])],
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


def _provider_plan(data: dict[str, Any]) -> ProviderPlan:
    return ProviderPlan(
        **{k: v for k, v in data.items() if k not in ("changes", "adjustments", "keys")},
        changes=[Change(**c) for c in data["changes"]],
        keys=[Change(**c) for c in data.get("keys", [])],
        adjustments=[Adjustment(**a) for a in data["adjustments"]],
    )


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(**{**data, "severity": Severity(data["severity"])})


@dataclass
class LivePlan:
    """The data plan of one provider and zone, with the octoDNS objects apply needs."""

    data: ProviderPlan
    provider: BaseProvider
    desired: Zone
    existing: Zone | None
    octo: OctoPlan | None
    error: BaseException | None = None  # why the live state could not be read
    processors: list[BaseProcessor] = field(default_factory=list)  # planned with these (flatten.py)


class _CaptureExisting(BaseProcessor):
    """octoDNS processor hook that keeps the provider's live zone as planned against."""

    def __init__(self) -> None:
        super().__init__("dnssync-capture")
        self.existing: Zone | None = None

    def process_target_zone(self, existing, target, lenient=False):
        self.existing = existing
        return existing


def digest(zone: Zone) -> str:
    """A digest of a zone's records, to notice any change of the provider's live state.
    octoDNS keeps values sorted and their reprs are deterministic, so repr is enough and
    much cheaper than rendering every value as rdata text."""
    rows = sorted(f"{r.name}\t{r._type}\t{r.ttl}\t{getattr(r, 'values', None) or r.value!r}" for r in zone.records)
    return "sha256:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()


def describe_error(error: BaseException, provider: BaseProvider | None = None) -> str:
    """A one-line, secret-free description of why a provider failed; with what to do
    about it where that is known (see providers/hints.py)."""
    explained = explain(error, provider)
    if explained:
        return " ".join(redact(explained).split())
    response = getattr(error, "response", None)
    text = str(error) or type(error).__name__
    if response is not None and getattr(response, "status_code", None):
        detail = ""
        try:
            detail = response.json().get("error", "")
        except Exception:  # a non-JSON error body
            detail = (response.text or "")[:200]
        text = f"HTTP {response.status_code} from {response.url}" + (f": {detail}" if detail else "")
    elif type(error).__module__.startswith(("requests", "urllib3")):
        text = f"{type(error).__name__}: {text}"
    return " ".join(redact(text).split())  # redact first: a secret may contain white space


def adjustments(provider: BaseProvider, desired: Zone) -> tuple[list[Adjustment], Zone]:
    """What `provider` would actually serve of `desired`, and how that differs from git.

    Runs the provider's own octoDNS `_process_desired_zone` (its SUPPORTS flags,
    dynamic/geo fallbacks, multi-value PTR) and its normalisations (TTL clamp) on
    a copy, so what plan shows is what will really be served, never a silent drop.
    Git's records are taken in DNS's meaning (sameness.py): a value written twice is
    the same record, not a difference."""
    served = served_zone(provider, desired)
    by_key = {(r.name, r._type): r for r in served.records}
    found = []
    for record in sorted(desired.records, key=lambda r: (r.name, r._type)):
        if record.ignored or provider.id in record.excluded or (
            record.included and provider.id not in record.included
        ):
            continue
        kept = by_key.get((record.name, record._type))
        reason_of = getattr(provider, "unsupported_reason", None)
        if kept is None:
            reason = (refusal_reason(provider, record) or (reason_of and reason_of(record))
                      or _why_dropped(provider, record))
            found.append(Adjustment("unsupported", record.name, record._type, reason, served_rrset(record)))
        elif kept is not record and record_data(kept) != record_data(distinct(record)):
            found.append(Adjustment("adjusted", record.name, record._type, _why_adjusted(record, kept),
                                    served_rrset(record), served_rrset(kept)))
    return found, served


def _why_dropped(provider: BaseProvider, record: Record) -> str:
    name = type(provider).__name__
    if record._type not in provider.SUPPORTS:
        return f"{name} cannot hold {record._type} records"
    if record.name == "" and record._type == "NS":
        return f"{name} does not manage the apex NS"
    return f"{name} drops this record"


def _why_adjusted(record: Record, kept: Record) -> str:
    if getattr(record, "dynamic", None) and not getattr(kept, "dynamic", None):
        return "dynamic record flattened to its default values (provider lacks dynamic support)"
    if getattr(record, "geo", None) and not getattr(kept, "geo", None):
        return "geo record flattened to its default values"
    if record._type == "PTR" and len(getattr(kept, "values", [])) < len(record.values):
        return "multi-value PTR reduced to one value"
    if kept.ttl > record.ttl:
        return f"TTL {record.ttl} raised to the provider's minimum {kept.ttl}"
    return "served differently from git"


def plan_one(name: str, provider: BaseProvider, desired: Zone,
             update_threshold: float, delete_threshold: float,
             processors: list[BaseProcessor] | None = None) -> LivePlan:
    """Plan one provider for one zone. Never raises: a failure is the plan's `error`.
    `processors` are octoDNS processors run after the live state is read (flatten.py)."""
    processors = list(processors or [])
    data = ProviderPlan(provider=name, zone=desired.name)
    provider.update_pcent_threshold = update_threshold
    provider.delete_pcent_threshold = delete_threshold
    capture = _CaptureExisting()
    try:
        data.adjustments, served = adjustments(provider, desired)
        # planned against what it will serve, so a TTL clamp converges instead of
        # showing the same update forever
        octo = provider.plan(served, processors=[capture, *processors])
    except Exception as e:  # any provider failure is reported, never fatal to the run
        data.error = describe_error(e, provider)
        return LivePlan(data, provider, desired, capture.existing, None, e, processors)
    existing = capture.existing
    data.exists = octo.exists if octo else True
    if existing is not None:
        data.existing_count = len(existing.records)
        data.existing_digest = digest(existing)
    if octo:
        data.changes = [Change.from_octodns(c) for c in octo.changes]
        try:
            octo.raise_if_unsafe()
        except UnsafePlan as e:
            data.unsafe = str(e)
    return LivePlan(data, provider, desired, existing, octo, processors=processors)


#: per (provider, zone): the zone it must serve where it differs from the shared desired
#: zone, and octoDNS processors its plan needs (flatten.Flattening.zones / .processors)
Overrides = tuple[dict[tuple[str, str], Zone], dict[tuple[str, str], list[BaseProcessor]]]


def make_plan(
    desired: dict[str, Zone],
    providers: dict[str, BaseProvider],
    serves: dict[str, list[str]],
    update_threshold: float = 0.3,
    delete_threshold: float = 0.3,
    concurrency: int = 8,
    live: bool = True,
    overrides: Overrides | None = None,
) -> tuple[Plan, list[LivePlan]]:
    """Plan every (provider, zone) pair in parallel. `serves` maps zone -> provider names.

    With `live` (apply needs the octoDNS objects) providers are planned in threads.
    Without it (the `plan` command needs only data) they are planned in forked
    processes: reading a provider and building its octoDNS records is CPU-bound
    Python, so threads would take turns on one core while processes use them all."""
    tasks = [(p, z) for z in sorted(desired) for p in serves[z] if p in providers]
    thresholds = (update_threshold, delete_threshold)
    overrides = overrides or ({}, {})
    lives: list[LivePlan] = []
    data: list[ProviderPlan] | None = None
    if not live and len(tasks) > 1 and "fork" in multiprocessing.get_all_start_methods():
        data = _plan_in_processes(tasks, desired, providers, thresholds, concurrency, overrides)
    if data is None:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(tasks) or 1))) as pool:
            lives = list(pool.map(lambda t: _plan_task(t, desired, providers, thresholds, overrides), tasks))
        data = [lp.data for lp in lives]
    zones = {name: zone_content(zone) for name, zone in sorted(desired.items())}
    return Plan(zones=zones, providers=data), lives


def _plan_task(task: tuple[str, str], desired: dict[str, Zone], providers: dict[str, BaseProvider],
               thresholds: tuple[float, float], overrides: Overrides) -> LivePlan:
    zone = overrides[0].get(task, desired[task[1]])
    return plan_one(task[0], providers[task[0]], zone, *thresholds, overrides[1].get(task))


#: what forked planning workers inherit (desired zones, providers, thresholds, overrides):
#: octoDNS zones and provider objects are not picklable, but a forked child shares them as they are
_forked: tuple[dict[str, Zone], dict[str, BaseProvider], tuple[float, float], Overrides] | None = None


def _plan_forked(task: tuple[str, str]) -> ProviderPlan:
    assert _forked is not None
    return _plan_task(task, *_forked).data


def _plan_in_processes(tasks: list[tuple[str, str]], desired: dict[str, Zone], providers: dict[str, BaseProvider],
                       thresholds: tuple[float, float], concurrency: int,
                       overrides: Overrides) -> list[ProviderPlan] | None:
    """Plan in forked workers; None when the pool breaks (the caller then uses threads)."""
    global _forked
    _forked = (desired, providers, thresholds, overrides)
    workers = max(1, min(concurrency, len(tasks)))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            # in chunks: one pickled round trip per pair cost more than planning a small zone
            return list(pool.map(_plan_forked, tasks, chunksize=max(1, len(tasks) // (workers * 4))))
    except BrokenProcessPool:
        return None
    finally:
        _forked = None


def zone_content(zone: Zone) -> list[dict[str, Any]]:
    return [{"name": r.name, **record_data(r)}
            for r in sorted(zone.records, key=lambda r: (r.name, r._type))]


def zone_from_content(name: str, content: list[dict[str, Any]], sub_zones: set[str]) -> Zone:
    """Rebuild a desired zone from a plan file's content (exactly what was reviewed)."""
    zone = Zone(name, sub_zones)
    for item in content:
        data = dict(item)
        record_name = data.pop("name")
        zone.add_record(Record.new(zone, record_name, data, lenient=True), lenient=True)
    return zone
