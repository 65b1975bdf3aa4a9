"""How watch reads the query engine's answers: RRsets, NXDOMAIN/NODATA, referrals, SOA."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.wire import parse_reply
from dnssync.watch.poll import served, soa
from dnssync.watch.propagation import SoaSerial
from tests.test_watch_model import served as expected


def answer(name: str, rtype: str, *, rcode: int = dns.rcode.NOERROR, aa: bool = True,
           answer: tuple[str, ...] | list[str] = (),
           authority: tuple[str, ...] | list[str] = ()) -> Answer:
    """An engine Answer around a real reply message built with dnspython."""
    response = dns.message.make_response(dns.message.make_query(name, rtype))
    if aa:
        response.flags |= dns.flags.AA
    response.set_rcode(rcode)
    for section, texts in ((response.answer, answer), (response.authority, authority)):
        for text in texts:
            owner, ttl, rdtype, *data = text.split(" ", 3)
            section.append(dns.rrset.from_text(owner, int(ttl), "IN", rdtype, *data))
    return Answer(Question.of(name, rtype), Endpoint("192.0.2.53"), None,
                  reply=parse_reply(response.to_wire()))


def test_an_rrset_with_its_ttl():
    got = served(answer("www.example.test.", "A", answer=[
        "www.example.test. 5 A 192.0.2.1", "WWW.Example.Test. 5 A 192.0.2.2"]))
    assert got == expected("A", 5, "192.0.2.1", "192.0.2.2")


def test_nxdomain_and_nodata_are_an_absent_rrset():
    got = served(answer("gone.example.test.", "A", rcode=dns.rcode.NXDOMAIN))
    assert got.absent and got.negative == "NXDOMAIN"
    cname = "www.example.test. 60 CNAME other.test."
    got = served(answer("www.example.test.", "A", answer=[cname]))
    assert got.absent and got.negative == "NODATA"


def test_a_delegation_is_read_from_the_referral():
    got = served(answer("sub.example.test.", "NS", aa=False, authority=[
        "sub.example.test. 300 NS ns1.sub.example.test."]))
    assert got == expected("NS", 300, "ns1.sub.example.test.")


def test_no_usable_answer_says_why():
    failed = Answer(Question.of("www.example.test.", "A"), Endpoint("192.0.2.53"), "timeout",
                    "no reply in 3 s (3 tries over UDP)")
    assert served(failed) == "timeout: no reply in 3 s (3 tries over UDP)"
    assert soa(failed) == "timeout: no reply in 3 s (3 tries over UDP)"


def test_soa_serial_and_negative_ttl_is_the_smaller_of_minimum_and_ttl():
    record = "example.test. {} SOA ns1.example.test. hostmaster.example.test. 42 3600 600 604800 5"
    assert soa(answer("example.test.", "SOA", answer=[record.format(60)])) == SoaSerial(42, 5)
    assert soa(answer("example.test.", "SOA", answer=[record.format(3)])) == SoaSerial(42, 3)
    assert soa(answer("example.test.", "SOA")).startswith("no SOA record in the answer")
