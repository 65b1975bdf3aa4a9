"""Amazon Route53, fixing octodns-route53 where it breaks against Route53's API.

octodns-route53's Route53Provider is the plugin; this subclass fixes what it gets
wrong (each fix has a test in tests/test_route53_*.py against moto's server, a
real HTTP server speaking Route53's API):

* Limits. Route53 refuses a ChangeResourceRecordSets request with more than
  1,000 ResourceRecord elements or 32,000 characters of Value, counting each of
  an UPSERT's twice (DNSLimitations, "limits-api-requests-changeresourcerecordsets").
  The plugin counts UPSERTs once and characters not at all, so updating 600
  records, or creating 200 long TXT records, is refused whole. Requests here
  stay within both limits, and within 1,000 changes.
* Rejections. Route53 applies a request all or nothing: one bad RRset
  (`InvalidChangeBatch`) loses the whole batch, and the plugin's error names no
  RRset. A rejected request is split (providers/refused.py's bisect) until the
  rejected changes are alone; the rest goes, and the error names each rejected
  RRset with Route53's message. What belongs together is never split, neither by
  the limits nor by the bisect: every change at one owner name (a CNAME->A update
  is a DELETE and a CREATE) and every RRset of one dynamic record
  (`_octodns-*` names below it) go in one request, so a rejected half can never
  leave a name deleted that the plan only updated.
* Ctrl-C. `interrupt.checkpoint()` runs before every request, so an apply
  stops at a request boundary.
* Transience. Throttling (`Throttling`, HTTP 400) and `PriorRequestNotComplete`
  are retried by botocore with backoff; when its attempts run out the error
  says it is transient, so dnssync's apply retries (re-planning) instead of
  reporting a permanent failure. So are 5xx answers and an unreachable endpoint.
* Stale reads. The plugin caches a zone's records from its first read for the
  provider object's life, so a re-plan after an apply (dnssync's retries, its
  "how much is still pending") saw the records from before. The cache is dropped
  after every apply.
* Geo. The plugin says it supports octoDNS's legacy `geo` records
  (SUPPORTS_GEO) but writes only their plain values (it writes `dynamic`
  records, not `geo`), so a zone with one plans the same update forever. Here
  geo is not claimed: octoDNS serves the plain values, and plan says so.
* Timeouts. botocore waits 60 s for a connection and 60 s for each answer, and
  retries a timed-out request (3 attempts): a Route53 endpoint that takes the
  connection and never answers (a hung proxy) cost three minutes a request, and a
  fleet's plan two requests per planning process (providers/breaker.py) before the
  breaker opened. Here `timeout` (seconds, default 10) bounds both waits. The
  plugin always hands boto3 its own `config=`, so the bound is set on the client
  it made (`bound`); a Route53 answer comes in well under a second.
* Endpoint. `endpoint_url` (or boto3's own AWS_ENDPOINT_URL_ROUTE_53 /
  AWS_ENDPOINT_URL) points it at an emulator; Route53 is a global service
  signed in us-east-1, so `region` defaults to that (boto3 has no region for a
  custom endpoint otherwise, and refuses to sign).

Forks. dnssync plans in forked workers; `nameservers: auto` has read Route53 in
the parent before, so the children would inherit its open keep-alive connections
and two processes could read one socket. Each child drops the connections it
inherited (the parent keeps its own); new ones open on demand.

It also reports each hosted zone's nameservers (its delegation set) for
`nameservers: auto` (see repo/nameservers.py).

`Route53Provider/ALIAS` records stay native here: the plugin reads and writes
them (values: name, type, hosted-zone-id, evaluate-target-health; `name` is
relative to the zone unless it is an AWS service target). Flattening them for
providers that cannot hold them, and loading the type from zone files, are
dnssync's ALIAS and validate mechanisms, not this module's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from octodns_route53 import Route53Provider as _OctodnsRoute53Provider
from octodns_route53.provider import _mod_keyer
from urllib3.util import Timeout

from dnssync.model import interrupt, secrets
from dnssync.model.errors import DnssyncException, OptionError
from dnssync.providers import forksafe
from dnssync.providers.refused import Deterministic, bisect

#: Route53's documented limits for one ChangeResourceRecordSets request
MAX_RESOURCE_RECORDS = 1000
MAX_VALUE_CHARS = 32000
MAX_CHANGES = 1000
#: seconds to wait for a connection, and for each answer (botocore's own: 60 and 60)
DEFAULT_TIMEOUT = 10.0
#: Route53 is a global service; its API is signed in us-east-1 (aws partition)
DEFAULT_REGION = "us-east-1"
#: error codes that say "try again later"
TRANSIENT_CODES = {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded",
                   "ServiceUnavailable", "InternalFailure", "InternalError"}
#: error codes with which Route53 rejects the content of a change batch
REJECTION_CODES = {"InvalidChangeBatch", "InvalidInput"}


class Route53Error(DnssyncException):
    """A Route53 request failed. `transient` says whether a retry may help; `rejected`
    lists the RRsets Route53 refused as (name, type, Route53's message)."""

    def __init__(self, message: str, transient: bool = False,
                 rejected: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        self.transient = transient
        self.rejected = rejected or []


Mod = dict[str, Any]


def weight(mods: Mod | list[Mod]) -> tuple[int, int]:
    """(ResourceRecord elements, Value characters) of one change (or a group of them), as
    Route53 counts them against a request's limits: an UPSERT counts twice."""
    if isinstance(mods, dict):
        mods = [mods]
    records = chars = 0
    for mod in mods:
        values = mod["ResourceRecordSet"].get("ResourceRecords") or []
        factor = 2 if mod["Action"] == "UPSERT" else 1
        records += len(values) * factor
        chars += sum(len(r["Value"]) for r in values) * factor
    return records, chars


def owner(mod: Mod) -> str:
    """The name a change belongs to: its RRset's name, without the `_octodns-<pool>-...`
    label the plugin puts in front of a dynamic record's pool RRsets."""
    name = mod["ResourceRecordSet"]["Name"].lower()
    first, _, rest = name.partition(".")
    return rest if first.startswith("_octodns-") and rest else name


def together(mods: list[Mod]) -> list[list[Mod]]:
    """`mods` in groups that must go in one request: all changes of one owner name (in
    the plugin's order: deletes first), groups in the order of their first change."""
    groups: dict[str, list[Mod]] = {}
    for mod in sorted(mods, key=_mod_keyer):
        groups.setdefault(owner(mod), []).append(mod)
    return list(groups.values())


def requests_within_limits(groups: list[list[Mod]], max_records: int = MAX_RESOURCE_RECORDS,
                           max_chars: int = MAX_VALUE_CHARS, max_changes: int = MAX_CHANGES,
                           ) -> Iterator[list[list[Mod]]]:
    """Consecutive runs of whole `groups` (in their order) that each fit one request. A
    group over a limit goes alone: Route53 then rejects it by name, and the rest goes."""
    batch: list[list[Mod]] = []
    records = chars = changes = 0
    for group in groups:
        r, c = weight(group)
        if batch and (records + r > max_records or chars + c > max_chars or changes + len(group) > max_changes):
            yield batch
            batch, records, chars, changes = [], 0, 0, 0
        batch.append(group)
        records, chars, changes = records + r, chars + c, changes + len(group)
    if batch:
        yield batch


def paging_complete(parsed: dict[str, Any], **_: Any) -> None:
    """Route53 always says whether ListHealthChecks is truncated; moto's server (the
    emulator the tests use) leaves IsTruncated out, and the plugin's paging loop then
    raises KeyError. A missing IsTruncated means the list is complete."""
    if isinstance(parsed, dict) and "HealthChecks" in parsed:
        parsed.setdefault("IsTruncated", False)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def describe(error: BaseException, where: str) -> Route53Error:
    """A botocore error as a Route53Error that says what happened, where, and whether
    a retry may help; never any credential (boto3's messages carry none)."""
    if isinstance(error, Route53Error):
        return error
    if isinstance(error, ClientError):
        code = _error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = error.response.get("Error", {}).get("Message") or str(error)
        transient = code in TRANSIENT_CODES or status >= 500
        hint = " (transient: retried with backoff)" if transient else ""
        return Route53Error(f"Route53 at {where}: {code or 'HTTP ' + str(status)}: {message}{hint}", transient)
    if isinstance(error, ConnectionError | HTTPClientError):  # refused, reset, timed out
        return Route53Error(f"Route53 at {where} unreachable: {error}", transient=True)
    return Route53Error(f"Route53 at {where}: {type(error).__name__}: {error}", transient=False)


def bound(client: Any, timeout: float) -> None:
    """Make `client` wait at most `timeout` seconds for a connection and for each answer.
    botocore fixes a client's timeouts from the `Config` it was made with, and the plugin
    passes its own (or none), so they are set on the client's HTTP session here: the
    timeout new connection pools get, and the pools that exist already."""
    session = client._endpoint.http_session
    session._timeout = Timeout(connect=timeout, read=timeout)
    for manager in (session._manager, *session._proxy_managers.values()):
        manager.connection_pool_kw["timeout"] = session._timeout
        manager.clear()  # a pool made before keeps the timeout it was made with


def _forget_connections(provider: Route53Provider) -> None:
    """In a forked child: boto3's pooled connections (see providers/forksafe.py)."""
    conn = getattr(provider, "_conn", None)
    if conn is not None:
        conn._endpoint.http_session.close()


@dataclass
class _Sent:
    """What one apply sent: RRset changes applied, and those Route53 rejected."""

    applied: int = 0
    rejected: list[tuple[str, str, str]] = field(default_factory=list)


class Route53Provider(_OctodnsRoute53Provider):
    """octodns-route53's provider with requests within Route53's limits, rejected RRsets
    named while the rest goes, transient errors marked, fresh reads and an endpoint."""

    SUPPORTS_GEO = False  # see the module docstring: the plugin never writes geo

    def __init__(self, id: str, *args: Any, endpoint_url: str | None = None, region: str = DEFAULT_REGION,
                 max_value_chars: int = MAX_VALUE_CHARS, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any):
        self.endpoint_url = endpoint_url
        self.region = region
        try:
            self.timeout = float(timeout)
        except (TypeError, ValueError):
            self.timeout = float("nan")
        if not self.timeout > 0:
            raise OptionError("timeout", f"'timeout' must be a number of seconds above 0, not {timeout!r}")
        self.max_value_chars = int(max_value_chars)
        self._sent = _Sent()
        self._created: set[str] = set()  # hosted zones zone_nameservers(create=True) made
        super().__init__(id, *args, **kwargs)
        forksafe.track(self, _forget_connections)

    def client(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("region_name", self.region)
        service = kwargs.get("service_name", args[0] if args else None)
        if self.endpoint_url and service == "route53":  # not the STS client of role_arn
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        client = super().client(*args, **kwargs)
        bound(client, self.timeout)
        client.meta.events.register("after-call.route53.ListHealthChecks", paging_complete)
        register_credentials(client)
        return client

    @property
    def where(self) -> str:
        """The endpoint in messages: the one configured or boto3's own."""
        conn = getattr(self, "_conn", None)
        return self.endpoint_url or (conn.meta.endpoint_url if conn is not None else "AWS")

    # -- reading ---------------------------------------------------------------

    def populate(self, zone, target=False, lenient=False):
        """As the plugin's; a hosted zone this run created (for `nameservers: auto`) and
        never applied to counts as new, as it would had apply created it: its apex NS
        is written without the root-NS-change gate meant for live zones."""
        try:
            exists = super().populate(zone, target, lenient)
        except (ClientError, BotoCoreError) as e:
            raise describe(e, self.where) from None
        return exists and zone.name not in self._created

    def list_zones(self):
        try:
            return super().list_zones()
        except (ClientError, BotoCoreError) as e:
            raise describe(e, self.where) from None

    def zone_nameservers(self, zone_name: str, create: bool = False) -> list[str] | None:
        """The nameservers Route53 gives `zone_name` (its delegation set), as NS values;
        for a zone it does not host yet: the reusable delegation set's when one is
        configured, else (with `create`) those of the hosted zone created now, else None."""
        try:
            zone_id = self._get_zone_id(zone_name)
            if not zone_id and create:
                zone_id = self._get_zone_id(zone_name, create=True)
                self._created.add(zone_name)
            if zone_id:
                found = self._conn.get_hosted_zone(Id=zone_id)["DelegationSet"]["NameServers"]
            elif self.delegation_set_id:
                found = self._conn.get_reusable_delegation_set(
                    Id=self.delegation_set_id)["DelegationSet"]["NameServers"]
            else:
                return None
        except (ClientError, BotoCoreError) as e:
            raise describe(e, self.where) from None
        return sorted(n.lower().rstrip(".") + "." for n in found)

    # -- writing ---------------------------------------------------------------

    def _apply(self, plan):
        self._sent = _Sent()
        try:
            super()._apply(plan)
            self._created.discard(plan.desired.name)
        except (ClientError, BotoCoreError) as e:
            raise describe(e, self.where) from None
        finally:
            # the plugin caches records from the first read; what was read before
            # this apply is no longer what Route53 holds
            self._r53_rrsets = {}
        rejected = self._sent.rejected
        if rejected:
            names = "; ".join(f"{name} {rtype}: {message}" for name, rtype, message in rejected)
            raise Route53Error(f"Route53 rejected {len(rejected)} RRset change(s) (the other"
                               f" {self._sent.applied} went): {names}", rejected=rejected)

    def _really_apply(self, batch, zone_id):
        for request in requests_within_limits(together(batch), max_chars=self.max_value_chars):
            _, rejected = bisect(request, lambda groups: self._send(groups, zone_id))
            self._sent.applied += sum(len(group) for group in request) - sum(len(g) for g, _ in rejected)
            for group, message in rejected:
                for mod in group:
                    rrset = mod["ResourceRecordSet"]
                    self.log.warning("_send: Route53 rejected %s %s %s: %s", mod["Action"], rrset["Name"],
                                     rrset["Type"], message)
                    self._sent.rejected.append((rrset["Name"], rrset["Type"], message))

    def _send(self, groups: list[list[Mod]], zone_id: str) -> None:
        """Send whole groups in one request (after a Ctrl-C check); Route53 rejecting its
        content is `Deterministic`, for `bisect` to split it down to the rejected group."""
        interrupt.checkpoint()  # Ctrl-C stops here, between two whole requests
        try:
            self._conn.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
                "Comment": "dnssync", "Changes": [mod for group in groups for mod in group]})
        except ClientError as e:
            if _error_code(e) not in REJECTION_CODES:
                raise
            raise Deterministic(e.response.get("Error", {}).get("Message") or str(e)) from None


def register_credentials(client: Any) -> None:
    """Register the credentials a client signs with as secrets: those of `role_arn`
    (STS), `profile` or the instance chain never went through config's `env/`."""
    signer = getattr(client, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    if credentials is None:
        return
    frozen = credentials.get_frozen_credentials()
    for value in (frozen.access_key, frozen.secret_key, frozen.token):
        if value:
            secrets.register(value)
