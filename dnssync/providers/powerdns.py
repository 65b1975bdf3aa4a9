"""PowerDNS, fixing octodns-powerdns for large zones.

octodns-powerdns sends all of a zone's changes in one PATCH (and creates a new
zone with all of its records in one POST). PowerDNS refuses a request body over
its `webserver-max-bodysize` (2 MB by default) with HTTP 400 "Bad Request", so a
large zone can never be pushed (tests/test_powerdns_lab.py shows it). Here a
request over `max_request_bytes` is split into several, in the plugin's own
order (deletes first); a new zone is created with its apex NS and then filled.
A failure after the first request leaves the zone partly changed; apply
re-reads the provider and reports how much is still pending, and a re-run
converges.

PowerDNS refuses a whole PATCH with HTTP 422 for one RRset it objects to (a
CNAME beside other data, an MX target that is not a host name). Such a request
is split until the refused RRsets are found (providers/refused.py): the rest is
applied and the error names each refused RRset with PowerDNS's reason.

A zone PowerDNS does not hold yet: octodns-powerdns first sends its changes as a
PATCH, which PowerDNS refuses with "no such zone", and then creates the zone with
them (POST). Plan has just asked PowerDNS for the zone and got that answer, so here
the PATCH is not sent: the plugin is handed the plan's answer and creates the zone
straight away. A zone created by someone else since the plan (POST: HTTP 409) is
patched, as the plugin would have. Plan's two reads of a missing zone (the quick
read, then populate) share its one answer too (keptread.py).

Requests go out through plainhttp.py, not requests, wherever requests adds nothing
(plain http, no proxy, no ~/.netrc entry): the client's CPU per request falls from
2.0 to 0.75 ms, spent three times a zone by a fleet's apply, once while holding
PowerDNS's write lock.

TXT and SPF: octodns-powerdns sends octoDNS's value between quotes as it is and
reads it back by stripping the quotes. octoDNS's value is raw text (only `;`
escaped), so a value with `\"` or `\\` was stored as different text by
PowerDNS than by BIND and Knot (which get octoDNS's own rendering), while the
read-back matched git: plan and drift said in sync, verify did not. Here values
are sent as octoDNS renders them and parsed back the same way (model/sameness.py).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from octodns.record.rr import RdataParseError
from octodns.record.txt import TxtValue
from octodns_powerdns import PowerDnsProvider as _OctodnsPowerDnsProvider
from octodns_powerdns import _encode_zone_name
from requests import HTTPError
from requests.utils import get_netrc_auth, select_proxy

from dnssync.model import interrupt
from dnssync.model.sameness import Rrsets, canonical_values
from dnssync.providers import forksafe, keptread, plainhttp
from dnssync.providers.refused import Deterministic, Refused, bisect

#: comfortably under PowerDNS's default webserver-max-bodysize (2 MB)
MAX_REQUEST_BYTES = 1_000_000


def chunks(rrsets: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of `rrsets` whose JSON stays under `limit` bytes each (each
    RRset's JSON and its separator, as a list's JSON counts them)."""
    if len(json.dumps(rrsets)) <= limit:  # one request, as nearly always: sized by one encoding
        return [rrsets]  # (an RRset at a time cost a third of a millisecond, under PowerDNS's write lock)
    out: list[list[dict[str, Any]]] = [[]]
    used = 0
    for rrset in rrsets:
        size = len(json.dumps(rrset)) + 2
        if out[-1] and used + size > limit:
            out.append([])
            used = 0
        out[-1].append(rrset)
        used += size
    return out


_ACTIONS = {"REPLACE": "create/update", "DELETE": "delete"}


def _quoted_value(content: str) -> str:
    """A TXT/SPF content as PowerDNS stores it (presentation format) as octoDNS's value;
    content octoDNS cannot parse is kept as octodns-powerdns read it (quotes stripped)."""
    try:
        return TxtValue.from_rdata_text(content)  # SPF's values parse the same way
    except RdataParseError:
        return content[1:-1]


class PowerDnsProvider(_OctodnsPowerDnsProvider):
    """octodns-powerdns's provider with requests bounded in size, a refused request split
    to the refused RRsets, and TXT/SPF stored as octoDNS means them."""

    #: PowerDNS's acceptance rules (see providers/acceptance.py)
    ACCEPTANCE = {"hostname_targets": True, "apex_cname": True}
    #: PowerDNS keeps a LUA record as its private type 65402, which AXFR shows (see
    #: capabilities.py; an ALIAS, TYPE65401, is aliaswire's)
    REPRESENTS = {"PowerDnsProvider/LUA": ("TYPE65402",)}
    #: what PowerDNS does when sent data beside a CNAME (seen on the lab; see planning/withheld.py)
    BESIDE_CNAME = "would refuse the zone's change (HTTP 422 'Conflicts with pre-existing RRset')"

    def __init__(self, id: str, host: str, api_key: str, *args: Any,
                 max_request_bytes: int = MAX_REQUEST_BYTES, **kwargs: Any):
        super().__init__(id, host, api_key, *args, **kwargs)
        self.max_request_bytes = int(max_request_bytes)
        forksafe.track(self, lambda provider: provider._sess.close())  # requests' pools, in a forked child
        self._settle_environment()
        #: zone path -> PowerDNS's "no such zone" answer to the last GET of it (see `_apply`)
        self._not_found: dict[str, HTTPError] = {}
        #: thread -> [zone path, that answer, whether its PATCH was left unsent], while applying
        self._creating: dict[int, list] = {}

    def _settle_environment(self) -> None:
        """Read once what requests reads from the environment on every request (proxy
        variables and NO_PROXY, REQUESTS_CA_BUNDLE, ~/.netrc), for this server's URL, the
        only one asked: the same settings, without a quarter of requests' CPU per request
        (a fleet's apply sends three requests a zone)."""
        session = self._sess
        url = f"{self.scheme}://{self.host}:{self.port:d}/"
        settings = session.merge_environment_settings(url, {}, None, session.verify, None)
        session.proxies, session.verify = settings["proxies"], settings["verify"]
        if session.auth is None:
            session.auth = get_netrc_auth(url)
        session.trust_env = False
        if self.scheme == "http" and select_proxy(url, session.proxies) is None and session.auth is None:
            # the plugin sends every request through `_sess.request`: there, plainhttp.py
            # takes it where requests would add nothing (https, a proxy and ~/.netrc keep requests)
            headers = dict(session.headers)
            session.request = lambda method, address, json=None, timeout=None: plainhttp.exchange(
                method, address, headers, json, timeout)

    def _no_such_zone(self, error: HTTPError) -> bool:
        """Whether `error` is PowerDNS saying it holds no such zone, as octodns-powerdns
        reads it (404 from PowerDNS 4.2 on, before that 422 "Could not find domain")."""
        status = error.response.status_code if error.response is not None else None
        if status not in (404, 422):  # first: the version below is one more request (401 on a bad key)
            return False
        if self.check_status_not_found:
            return status == 404
        return status == 422 and self._get_error(error).startswith("Could not find domain ")

    def _apply(self, plan):
        """The plugin's apply; for a zone the plan read as missing, without the PATCH
        PowerDNS would refuse for that (see the module docstring)."""
        path = f"zones/{_encode_zone_name(plan.desired.name)}"
        answer = self._not_found.get(path) if plan.exists is False else None
        if answer is not None:
            self._creating[threading.get_ident()] = [path, answer, False]
        try:
            return super()._apply(plan)
        finally:
            self._creating.pop(threading.get_ident(), None)

    def _patch(self, path, data=None):
        creating = self._creating.get(threading.get_ident())
        if creating is not None and creating[0] == path and not creating[2]:
            creating[2] = True  # answered once: the zone's filling PATCHes (`_post`) are sent
            raise HTTPError(*creating[1].args, response=creating[1].response)
        rrsets = (data or {}).get("rrsets") or []
        parts = chunks(rrsets, self.max_request_bytes)
        if len(parts) == 1 and not rrsets:
            return super()._patch(path, data)
        applied, refused = 0, []
        for index, part in enumerate(parts):
            interrupt.checkpoint()  # Ctrl-C stops here, between two whole requests
            done, rejected = bisect(part, lambda rrs: self._patch_part(path, rrs))
            applied += done
            refused += rejected
            self.log.debug("_patch: request %d of %d, %d rrsets, %d refused", index + 1, len(parts), done,
                           len(rejected))
        if refused:
            raise Refused(f"PowerDNS {self.host}:{self.port}", [
                (f"{_ACTIONS.get(r.get('changetype', ''), 'change')} {r['name']} {r['type']}", why)
                for r, why in refused], applied, len(rrsets))
        return None

    def _patch_part(self, path: str, rrsets) -> None:
        """One PATCH; HTTP 422 about the data (not a missing zone) is `Deterministic`."""
        try:
            super()._patch(path, {"rrsets": list(rrsets)})
        except HTTPError as e:
            error = self._get_error(e) if e.response is not None else ""
            if e.response is not None and e.response.status_code == 422 and not error.startswith(
                    "Could not find domain "):
                raise Deterministic(f"HTTP 422: {error}") from None
            raise

    def _get(self, path, data=None):
        """A GET of the zone plan's quick read just made is answered from that read
        (keptread.py: once, in the same thread), its content or PowerDNS's "no such
        zone", else asked. A zone's "no such zone" is kept for its apply (`_apply`)."""
        kept = keptread.take(self, path) if data is None else None
        if isinstance(kept, HTTPError):
            raise HTTPError(*kept.args, response=kept.response)
        if kept is not None:
            return kept
        try:
            response = super()._get(path, data=data)
        except HTTPError as e:
            if data is None and path.startswith("zones/") and self._no_such_zone(e):
                self._not_found[path] = e
            raise
        self._not_found.pop(path, None)
        return response

    def read_names(self, zone_name: str, names: set[str] | None = None) -> Rrsets:
        """The RRsets PowerDNS holds at `names` (lower-case absolute names; None: the whole
        zone), in DNS's meaning (sameness.Rrsets): what apply reads back and plan compares
        first (readback.py, planning/unchanged.py). One GET of the zone, as populate makes;
        only these names' content is looked at, never built into octoDNS records. Errors
        are raised as they come (HTTPError for a missing zone too; NotPlain for content
        only octoDNS can read)."""
        found = {}
        path = f"zones/{_encode_zone_name(zone_name)}"
        try:
            response = self._get(path)
        except HTTPError as e:
            if names is None and self._not_found.get(path) is e:  # populate's GET gets the same answer
                keptread.keep(self, path, e)
            raise
        if names is None:  # populate may want the same GET
            keptread.keep(self, path, response)
        for rrset in response.json()["rrsets"]:
            name, rtype = rrset["name"].lower(), rrset["type"]
            if (names is None or name in names) and (
                    rtype in self.SUPPORTS or f"PowerDnsProvider/{rtype}" in self.SUPPORTS):
                found[(name, rtype)] = (rrset["ttl"], canonical_values(rtype, [r["content"] for r in rrset["records"]]))
        return found

    # -- TXT/SPF as octoDNS renders and parses them (see the module docstring) --------

    def _records_for_quoted(self, record):
        return [{"content": v.to_rdata_text(), "disabled": False} for v in record.values], record._type

    _records_for_TXT = _records_for_quoted
    _records_for_SPF = _records_for_quoted

    def _data_for_quoted(self, rrset):
        return {"type": rrset["type"], "ttl": rrset["ttl"],
                "values": [_quoted_value(r["content"]) for r in rrset["records"]]}

    _data_for_TXT = _data_for_quoted
    _data_for_SPF = _data_for_quoted

    def _post(self, path, data=None):
        try:
            return self._create(path, data)
        except HTTPError as e:
            creating = self._creating.get(threading.get_ident())
            if not (path == "zones" and creating is not None and creating[2] and e.response is not None
                    and e.response.status_code == 409):
                raise
        # created by someone else since the plan read it missing: the unsent PATCH is sent
        return self._patch(f"zones/{_encode_zone_name(data['name'])}", {"rrsets": data.get("rrsets") or []})

    def _create(self, path, data=None):
        rrsets = (data or {}).get("rrsets") or []
        if path != "zones" or len(json.dumps(data)) <= self.max_request_bytes:
            return super()._post(path, data)
        # create the zone with its apex NS (PowerDNS needs it), then fill it in parts
        apex = [r for r in rrsets if r["type"] == "NS" and r["name"] == data["name"]]
        response = super()._post(path, {**data, "rrsets": apex})
        self._patch(f"zones/{_encode_zone_name(data['name'])}", {"rrsets": [r for r in rrsets if r not in apex]})
        return response
