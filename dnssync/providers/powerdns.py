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
"""

from __future__ import annotations

import json
from typing import Any

from octodns_powerdns import PowerDnsProvider as _OctodnsPowerDnsProvider
from octodns_powerdns import _encode_zone_name

from dnssync import interrupt

#: comfortably under PowerDNS's default webserver-max-bodysize (2 MB)
MAX_REQUEST_BYTES = 1_000_000


def chunks(rrsets: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of `rrsets` whose JSON stays under `limit` bytes each."""
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


class PowerDnsProvider(_OctodnsPowerDnsProvider):
    """octodns-powerdns's provider with requests bounded in size."""

    def __init__(self, id: str, host: str, api_key: str, *args: Any,
                 max_request_bytes: int = MAX_REQUEST_BYTES, **kwargs: Any):
        super().__init__(id, host, api_key, *args, **kwargs)
        self.max_request_bytes = int(max_request_bytes)

    def _patch(self, path, data=None):
        rrsets = (data or {}).get("rrsets") or []
        parts = chunks(rrsets, self.max_request_bytes)
        interrupt.checkpoint()
        if len(parts) == 1:
            return super()._patch(path, data)
        response = None
        for index, part in enumerate(parts):
            interrupt.checkpoint()  # Ctrl-C stops here, between two whole requests
            response = super()._patch(path, {"rrsets": part})
            self.log.debug("_patch: request %d of %d, %d rrsets", index + 1, len(parts), len(part))
        return response

    def _post(self, path, data=None):
        rrsets = (data or {}).get("rrsets") or []
        if path != "zones" or len(json.dumps(data)) <= self.max_request_bytes:
            return super()._post(path, data)
        # create the zone with its apex NS (PowerDNS needs it), then fill it in parts
        apex = [r for r in rrsets if r["type"] == "NS" and r["name"] == data["name"]]
        response = super()._post(path, {**data, "rrsets": apex})
        self._patch(f"zones/{_encode_zone_name(data['name'])}", {"rrsets": [r for r in rrsets if r not in apex]})
        return response
