"""The query engine's failure kinds: one table (`FAILURES`) that the engine classifies
by and every stage reports from."""

from __future__ import annotations

import re
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode

from dnssync.model.findings import CODES
from dnssync.query import answer, channel, engine, tcpbatch, wire
from dnssync.query.answer import FAILURES
from dnssync.verify.compare import FAILURE_CODES

# the kind literals the engine and the pipelined TCP client give an Answer
_KIND = re.compile(r'(?:kind(?:, detail)? = |_done\(pending, |return |answer\((?:qid|asked), )"([a-z-]+)"')


def test_every_kind_the_query_layer_gives_is_in_the_table():
    kinds = set()
    for module in (engine, answer, channel, tcpbatch):
        kinds |= set(_KIND.findall(Path(module.__file__).read_text()))
    assert {"timeout", "unreachable", "network", "malformed", "id-mismatch", "rcode"} <= kinds
    assert kinds <= set(FAILURES), kinds - set(FAILURES)


def test_every_failure_code_is_a_registered_finding():
    assert all(failure.code in CODES for failure in FAILURES.values())
    assert {"verify.timeout", "verify.rcode", "verify.non-authoritative"} <= FAILURE_CODES


def _reply(rcode: int, flags: int = wire.AA) -> wire.Reply:
    query = dns.message.make_query("example.test.", "A")
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    response.flags = (response.flags & ~dns.flags.AA) | flags
    return wire.parse_reply(response.to_wire())


def test_rcodes_are_classified_by_the_table():
    for kind, failure in FAILURES.items():
        if failure.rcode is not None:
            assert answer.classify(_reply(failure.rcode), False)[0] == kind
    assert answer.classify(_reply(dns.rcode.YXDOMAIN), False)[0] == "rcode"
    assert answer.classify(_reply(dns.rcode.NXDOMAIN), False)[0] is None
    assert answer.classify(_reply(dns.rcode.NOERROR, 0), False)[0] == "non-authoritative"
    assert answer.classify(_reply(dns.rcode.NOERROR, 0), True)[0] is None
