"""Plan's first look: does the provider hold exactly what it should?

Most of a fleet's zones are in sync on most runs. octoDNS finds that out the long
way: every live record is built into an octoDNS object, validated and compared, which
is most of what a plan of hundreds of zones costs. Here the provider's live zone is
read in DNS's meaning (`read_names`: the transfer's RDATA or the API's content in
canonical form, nothing built) and compared with what it must serve (sameness.py).

Equal RRsets everywhere means octoDNS would plan no change: it compares TTL and values
(those providers add no extra changes), and the records it judges by more than that
(dynamic, geo, a plugin's own type, processors) never take this way. Anything else,
any difference at all, and any read that is not a transient failure, goes to
octoDNS's own planning, which says what the changes are.
"""

from __future__ import annotations

import hashlib

from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.model.sameness import Rrsets, plain, rrsets_of
from dnssync.providers.hints import is_transient


def in_sync(provider: BaseProvider, served: Zone) -> tuple[int, str] | None:
    """(record count, digest) of the provider's live zone when it holds exactly `served`;
    None when it does not or cannot be told here. A transient failure to read (timeout,
    connection refused, HTTP 5xx) is raised, as populate would raise it; any other goes
    the long way, whose populate has its own words for some (a missing zone is one to
    create, not an error)."""
    read = getattr(provider, "read_names", None)
    records = served.records  # a set built afresh on each use: built once here
    if read is None or not all(plain(record, provider.id) for record in records):
        return None
    try:
        found = read(served.name)
    except Exception as e:
        if is_transient(e):  # the long way would wait for it again: say it now
            raise
        return None  # a missing zone, a refusal, values only octoDNS reads: its populate says
    # the names and types first: a zone to fill (a first apply) differs there, cheaply
    if found.keys() != {(record.fqdn.lower(), record._type) for record in records}:
        return None
    if found != rrsets_of(records, provider.id):
        return None
    return len(found), live_digest(found)


def live_digest(rrsets: Rrsets) -> str:
    """A digest of a live zone read in DNS's meaning (what `existing_digest` records for a
    pair planned in sync: an apply of a reviewed plan re-plans it the same way)."""
    rows = sorted(f"{name}\t{rtype}\t{ttl}\t{','.join(sorted(v.hex() for v in values))}"
                  for (name, rtype), (ttl, values) in rrsets.items())
    return "sha256:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()
