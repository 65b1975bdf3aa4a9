"""The DNS query engine against a real server (the lab) and against a faulty one:
every outcome is an Answer with the right error kind, never an exception."""

from __future__ import annotations

import asyncio
import base64
import socket
import time

import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.update
import pytest

from dnssync.model.address import Nameserver
from dnssync.providers.rfc2136 import BindProvider, Rfc2136Error
from dnssync.query import axfr, wire
from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.axfr import tsig_key
from dnssync.query.channel import BREAKER
from dnssync.query.engine import Engine, resolve
from dnssync.verify import extra
from dnssync.verify.compare import Observed
from dnssync.verify.extra import transfer
from tests.conftest import unique_zone
from tests.faultyns import OTHER_KEY, FaultyNameserver
from tests.wirecases import damaged

ORIGIN = "faulty.test."
ZONE = """
$TTL 300
@ SOA ns1.faulty.test. hostmaster.faulty.test. 7 3600 600 604800 5
@ NS ns1.faulty.test.
www A 192.0.2.1
{names}
""".format(names="\n".join(f"{label} A 192.0.2.{i + 10}" for i, label in enumerate(
    ("servfail", "refused", "lame", "big", "bigbroken", "wrong", "badid", "drop", "cut",
     "badrdata"))))


def ask(endpoint: Endpoint, name: str, rdtype: str = "A", timeout: float = 0.6, **kw) -> Answer:
    async def go() -> Answer:
        async with Engine(timeout=timeout, resends=1) as engine:
            return await engine.ask(endpoint, name, rdtype, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def faulty():
    with FaultyNameserver(ORIGIN, ZONE) as server:
        yield server


@pytest.fixture(scope="module")
def endpoint(faulty) -> Endpoint:
    return Endpoint("127.0.0.1", faulty.port, "ns1.faulty.test.")


def values(answer: Answer) -> set[str]:
    reply = answer.reply
    assert reply is not None
    return {reply.rdata(rr).to_text() for rr in reply.answer}


def test_healthy_answer(endpoint):
    answer = ask(endpoint, "www.faulty.test.")
    assert answer.error is None and answer.aa and not answer.tc
    assert answer.transport == "udp" and answer.attempts == 1
    assert values(answer) == {"192.0.2.1"}
    assert answer.reply.answer[0].ttl == 300
    message = answer.reply.message()  # the full dnspython message on demand
    assert message.answer[0].name == dns.name.from_text("www.faulty.test.")


def test_nxdomain_is_not_an_error(endpoint):
    answer = ask(endpoint, "nope.faulty.test.")
    assert answer.error is None and answer.nxdomain and answer.aa


@pytest.mark.parametrize(("label", "kind"), [
    ("servfail", "servfail"), ("refused", "refused"), ("lame", "non-authoritative"),
    ("bigbroken", "truncated"), ("badid", "id-mismatch"), ("drop", "timeout"),
])
def test_faults_are_answers_with_their_kind(endpoint, label, kind):
    answer = ask(endpoint, f"{label}.faulty.test.")
    assert answer.error == kind, answer.detail
    assert answer.detail


def test_truncation_is_retried_over_tcp(endpoint):
    answer = ask(endpoint, "big.faulty.test.")
    assert answer.error is None, answer.detail
    assert answer.transport == "tcp"
    assert values(answer) == {"192.0.2.13"}


def test_wrong_answer_is_data_not_an_error(endpoint):
    answer = ask(endpoint, "wrong.faulty.test.")
    assert answer.error is None and values(answer) == {"192.0.2.254"}


def test_lost_packets_are_retried(faulty, endpoint):
    before = faulty.queries
    answer = ask(endpoint, "drop.faulty.test.", timeout=0.6)
    assert answer.error == "timeout" and answer.attempts == 2  # first try + 1 retry
    assert faulty.queries - before == 2


def test_forced_tcp(endpoint):
    answer = ask(endpoint, "www.faulty.test.", tcp=True)
    assert answer.error is None and answer.transport == "tcp"
    assert values(answer) == {"192.0.2.1"}


def test_ipv6_endpoint():
    with FaultyNameserver(ORIGIN, ZONE, host="::1") as server:
        endpoint = Endpoint("::1", server.port, "ns1.faulty.test.")
        assert endpoint.label == f"ns1.faulty.test ([::1]:{server.port})"
        answer = ask(endpoint, "www.faulty.test.")
        assert answer.error is None and values(answer) == {"192.0.2.1"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_unreachable_and_fast():
    endpoint = Endpoint("127.0.0.1", free_port())
    start = time.monotonic()
    answer = ask(endpoint, "www.faulty.test.", timeout=3)
    assert answer.error == "unreachable"
    assert time.monotonic() - start < 1
    assert ask(endpoint, "www.faulty.test.", tcp=True).error == "unreachable"


def test_ask_many_window_and_breaker():
    """A silent server: at most `window` questions are ever in flight, and once the
    breaker trips the remaining questions fail at once instead of each timing out."""
    questions = [Question.of(f"q{i}.faulty.test.", "A", i) for i in range(500)]
    got: list[Answer] = []
    with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
        endpoint = Endpoint("127.0.0.1", server.port)

        async def go() -> dict[str, int]:
            async with Engine(timeout=0.5, resends=0, window=16) as engine:
                await engine.ask_many(endpoint, questions, got.append)
                return engine.stats

        start = time.monotonic()
        stats = asyncio.run(go())
        elapsed = time.monotonic() - start
        # one window, plus what the first timeouts let in before the breaker tripped,
        # plus the one probe sent when it tripped
        assert 16 <= server.queries <= 16 + BREAKER
    assert elapsed < 2
    assert sorted(a.question.tag for a in got) == list(range(500))
    assert {a.error for a in got} == {"timeout"}
    assert sum(a.attempts == 0 for a in got) == 500 - server.queries
    assert stats["queries"] == 500 and stats["udp_sent"] == server.queries


def test_ask_many_streams_every_answer(lab):
    zone = unique_zone("eng")
    lab.add_zone(zone, ["pdns"])
    endpoint = Endpoint(lab.pdns.address, 53, lab.pdns.nameserver)
    names = [Question.of(f"n{i}.{zone}", "A", i) for i in range(300)] + [Question.of(zone, "SOA")]
    got: list[Answer] = []

    async def go() -> None:
        async with Engine(window=32) as engine:
            await engine.ask_many(endpoint, names, got.append)

    asyncio.run(go())
    assert len(got) == 301
    assert all(a.error is None and a.aa for a in got)
    assert sum(a.nxdomain for a in got) == 300
    soa = next(a for a in got if a.question.rdtype == dns.rdatatype.SOA)
    assert soa.reply.answer[0].rdtype == dns.rdatatype.SOA


def test_ask_many_raises_what_the_callback_raises(endpoint):
    def boom(answer: Answer) -> None:
        raise RuntimeError("callback failed")

    async def go() -> None:
        async with Engine() as engine:
            await engine.ask_many(endpoint, [Question.of("www.faulty.test.", "A")], boom)

    with pytest.raises(RuntimeError, match="callback failed"):
        asyncio.run(go())


def test_resolve_nameservers():
    endpoints, problem = asyncio.run(resolve(Nameserver("ns1.example.", "192.0.2.53", 5300)))
    assert problem is None and endpoints == [Endpoint("192.0.2.53", 5300, "ns1.example.")]
    endpoints, problem = asyncio.run(resolve(Nameserver("ns1.example.", "localhost", 53)))
    assert problem is None and "127.0.0.1" in {e.address for e in endpoints}
    endpoints, problem = asyncio.run(resolve(Nameserver("ns1.invalid.", None)))
    assert endpoints == [] and "cannot resolve ns1.invalid" in problem


def test_wire_rejects_compression_loops():
    query = wire.query_wire(1, dns.name.from_text("a.example.").to_wire(), 1)
    looped = query[:12] + b"\xc0\x0c" + query[-15:]
    with pytest.raises(wire.Malformed):
        wire.parse_reply(looped)
    reply = wire.parse_reply(query)
    assert reply.qname == b"\x01a\x07example\x00" and reply.qtype == 1 and reply.id == 1


@pytest.mark.parametrize("small", [False, True], ids=["thread", "event-loop"])
def test_axfr_with_and_without_the_right_tsig_key(lab, small):
    """A transfer of many messages (TSIG over the whole stream), and refusals, read by
    a thread or on the event loop alike."""
    zone = unique_zone("x")
    lab.add_zone(zone, ["bind", "knot"])
    for server in (lab.bind, lab.knot):
        keyring = dns.tsigkeyring.from_text({server.key_name: server.key_secret})
        for batch in range(6):
            update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm="hmac-sha256")
            for i in range(batch * 500, batch * 500 + 500):
                update.add(f"t{i}.{zone}", 300, "TXT", f"value-{i}-" + "x" * 40)
            assert dns.query.tcp(update, server.address, timeout=10).rcode() == 0
        endpoint = Endpoint(server.address, server.port, server.nameserver)
        right = tsig_key(server.key_name, server.key_secret)
        served = asyncio.run(transfer(endpoint, zone, right, 5, small=small))
        assert served.error is None, served.error
        apex = dns.name.from_text(zone).to_wire()
        # the SOA the server adds is not kept: git never holds one (extra.SERVER_TYPES)
        assert {t for owner, t in served.rrsets if owner == apex} == {dns.rdatatype.NS}
        assert len(served.rrsets) == 3001  # over 200 kB: many messages, one TSIG stream
        skipping = asyncio.run(transfer(endpoint, zone, right, 5, skip=set(served.rrsets),
                                        small=small))
        assert skipping.error is None and skipping.rrsets == {}
        wrong = tsig_key(server.key_name, base64.b64encode(b"w" * 32).decode())
        refused = asyncio.run(transfer(endpoint, zone, wrong, 2, small=small))
        assert refused.error and refused.rrsets == {}, server.name
        unsigned = asyncio.run(transfer(endpoint, zone, None, 2, small=small))
        assert "refused" in unsigned.error, unsigned.error


def test_a_transfer_keeps_no_record_a_server_adds_and_never_parses_its_rdata():
    """What a server adds by itself (its SOA, DNSSEC records) is neither compared nor an
    extra, so a transfer does not keep it or put its RDATA in canonical form: an SOA's
    cost more (dnspython) than the rest of a 40-record zone. Shown with an SOA whose RDATA
    does not parse: kept, it made the whole transfer fail as malformed."""
    zone = "kept.test."
    message = dns.message.make_response(dns.message.make_query(zone, "AXFR"))
    for name, rtype, value in ((zone, "SOA", f"ns1.{zone} hostmaster.{zone} 1 3600 600 604800 300"),
                               (f"www.{zone}", "A", "192.0.2.1"),
                               (f"www.{zone}", "RRSIG", "A 13 3 300 20300101000000 20200101000000"
                                                        f" 1 {zone} " + "A" * 88),
                               (zone, "SOA", f"ns1.{zone} hostmaster.{zone} 1 3600 600 604800 300")):
        message.answer.append(dns.rrset.from_text(name, 300, "IN", rtype, value))
    data = bytearray(message.to_wire())
    first_soa = wire.parse_reply(bytes(data)).answer[0]
    data[first_soa.offset:first_soa.offset + 2] = b"\xc0\xff"  # a pointer forward: malformed
    reply = wire.parse_reply(bytes(data))
    with pytest.raises(wire.Malformed):
        reply.rdata_key(reply.answer[0])
    kept = extra._collect(((reply, rr) for rr in reply.answer), set())
    assert set(kept) == {(dns.name.from_text(f"www.{zone}").to_wire(), dns.rdatatype.A)}


def test_breaker_lets_a_nameserver_that_comes_back_in():
    """Watch's case: questions every 0.1 s to a server that stops answering, then comes
    back. Once the breaker is open its questions fail at once, but they do not keep it
    open: when its time is up a probe is sent, and the server is asked again."""
    with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
        endpoint = Endpoint("127.0.0.1", server.port)

        async def go() -> tuple[list[Answer], list[Answer], float]:
            async with Engine(timeout=0.3, resends=1) as engine:
                down = await asyncio.gather(*(engine.ask(endpoint, f"q{i}.{ORIGIN}", "A")
                                              for i in range(BREAKER + 2)))
                probe = await engine.ask(endpoint, f"www.{ORIGIN}", "A")  # sent: still silent
                refused = [probe, await engine.ask(endpoint, f"www.{ORIGIN}", "A")]
                server.mode = None  # it is back
                back = time.monotonic()
                polls = []
                while time.monotonic() - back < 3:
                    polls.append(await engine.ask(endpoint, f"www.{ORIGIN}", "A"))
                    if polls[-1].error is None:
                        break
                    await asyncio.sleep(0.1)
                return down + refused, polls, time.monotonic() - back

        failed, polls, waited = asyncio.run(go())
    assert {a.error for a in failed} == {"timeout"}
    assert failed[-2].attempts > 0 and failed[-1].attempts == 0  # the probe; then open: not sent
    assert polls[-1].error is None and values(polls[-1]) == {"192.0.2.1"}, [a.detail for a in polls]
    assert waited < 1.5  # the open time (0.3 s) and one probe, not forever


def test_a_probe_asked_again_is_sent_not_held_behind_itself():
    """The breaker's probe ran out of time while something else came back from the server
    (a stray or late datagram): the endpoint is alive, so the probe is asked again. It was
    queued behind itself, as a question waiting for the probe, with no timer left: verify
    hung for ever (seen under load, embedded servers answering late)."""
    with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
        endpoint = Endpoint("127.0.0.1", server.port)

        async def go() -> list[Answer]:
            async with Engine(timeout=0.3, resends=1) as engine:
                await asyncio.gather(*(engine.ask(endpoint, f"q{i}.{ORIGIN}", "A") for i in range(BREAKER + 2)))
                server.mode = "stray"  # tripped: the probe's reply is debris, yet the server is alive
                return await asyncio.wait_for(asyncio.gather(
                    engine.ask(endpoint, f"www.{ORIGIN}", "A"), engine.ask(endpoint, f"other.{ORIGIN}", "A")), 10)

        answers = asyncio.run(go())
    assert [a.error for a in answers] == ["timeout", "timeout"], [a.detail for a in answers]
    assert answers[0].attempts > 1  # the probe was asked again, not failed at once


def test_ask_many_goes_on_when_a_nameserver_recovers_mid_zone():
    """verify's case: a server silent for a moment early in a large zone trips the
    breaker; the questions held behind the probe are asked once it answers, instead of
    every remaining record becoming a false timeout."""
    questions = [Question.of(f"www.{ORIGIN}", "A", i) for i in range(300)]
    got: list[Answer] = []
    with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
        endpoint = Endpoint("127.0.0.1", server.port)

        async def go() -> None:
            loop = asyncio.get_running_loop()
            loop.call_later(0.6, setattr, server, "mode", None)  # back after 0.6 s
            async with Engine(timeout=0.5, window=16) as engine:
                await engine.ask_many(endpoint, questions, got.append)

        asyncio.run(go())
    assert sorted(a.question.tag for a in got) == list(range(300))
    failed = [a for a in got if a.error]
    # the first window timed out (the server really was silent for longer than the
    # timeout), and what was sent before the probe; everything after was answered
    assert 16 <= len(failed) <= 16 + BREAKER, {a.error for a in failed}
    assert all(a.attempts for a in failed)  # none failed unasked


@pytest.mark.parametrize("tcp", [False, True])
def test_a_reply_cut_inside_a_compression_pointer_is_malformed(endpoint, tcp):
    """The reply ends with 0xC0 where a record's owner starts: over UDP and over TCP the
    question ends as `malformed`, never as an exception, a false timeout or a hang."""

    async def go() -> Answer:
        async with Engine(timeout=1, resends=1) as engine:
            return await asyncio.wait_for(engine.ask(endpoint, f"cut.{ORIGIN}", "A", tcp=tcp), 5)

    answer = asyncio.run(go())
    assert answer.error == "malformed", answer.detail
    assert answer.transport == ("tcp" if tcp else "udp")


def test_rdata_that_does_not_parse_is_malformed_not_a_crash(endpoint):
    answer = ask(endpoint, f"badrdata.{ORIGIN}")
    assert answer.error is None  # the message frames; its RDATA does not parse
    reply = answer.reply
    [rr] = reply.answer
    with pytest.raises(wire.Malformed, match="A RDATA of 3 octets"):
        reply.rdata(rr)
    shown = Observed.from_reply(reply, reply.answer)
    assert shown.values() == {"ttl": 300, "values": ["\\# 3 c00002"]}  # RFC 3597 form
    assert "3 octets" in shown.malformed()


def test_parse_reply_raises_only_malformed():
    """Every truncation and thousands of corruptions of a real reply: parse_reply and
    the RDATA parser fail with wire.Malformed or not at all."""
    query = dns.message.make_query("www.example.com.", "MX")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("www.example.com.", 300, "IN", "MX",
                                               "10 mail.example.com.", "20 mx.example.com."))
    response.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS",
                                                  "ns1.example.com."))
    response.additional.append(dns.rrset.from_text("ns1.example.com.", 300, "IN", "A",
                                                   "192.0.2.1"))
    data = response.to_wire()
    cases = damaged(data, 7, changes=4, start=0)
    cut = data[:12 + len(b"\x03www\x07example\x03com\x00") + 4 + 1]
    assert cut[-1] == 0xC0
    cases.append(cut)
    for case in cases:
        try:
            reply = wire.parse_reply(case)
            for rr in reply.answer + reply.authority + reply.additional:
                reply.rdata(rr)
        except wire.Malformed:
            pass


def test_soa_numbers_and_ns_targets_read_off_the_wire_are_dnspythons():
    """The SOA's SERIAL and MINIMUM and an NS target, read without dnspython, give what
    dnspython reads, or Malformed where it fails: for a reply with compressed and escaped
    names in mixed case, its truncations and thousands of corruptions."""
    query = dns.message.make_query("Example.COM.", "SOA")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("example.com.", 300, "IN", "SOA",
                                               "NS1.example.com. host\\.master.Example.com. 2024 7200 900 1209600 600"))
    response.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "NS", "NS1.Example.com.",
                                                  "odd\\.label.example.NET.", "ns\\032x.example.com."))
    data = response.to_wire()
    cases = [data, *damaged(data, 11)]
    compared = 0
    for case in cases:
        try:
            reply = wire.parse_reply(case)
        except wire.Malformed:
            continue
        for rr in reply.answer + reply.authority:
            try:
                parsed = reply.rdata(rr)
            except wire.Malformed:
                parsed = None
            if rr.rdtype == dns.rdatatype.SOA:
                read = reply.soa_numbers
                expected = parsed and (parsed.serial, parsed.minimum)
            elif rr.rdtype == dns.rdatatype.NS:
                read = reply.target_text
                expected = parsed and parsed.target.to_text().lower()
            else:
                continue
            if parsed is None:
                with pytest.raises(wire.Malformed):
                    read(rr)
            else:
                assert read(rr) == expected
                compared += 1
    assert compared > 1000
    whole = wire.parse_reply(data)
    assert whole.soa_numbers(whole.answer[0]) == (2024, 600)
    assert sorted(whole.target_text(rr) for rr in whole.authority) == [
        "ns1.example.com.", "ns\\032x.example.com.", "odd\\.label.example.net."]


def test_transfer_with_a_malformed_message_is_an_error_not_a_crash():
    with FaultyNameserver(ORIGIN, ZONE, transfer="malformed") as server:
        endpoint = Endpoint("127.0.0.1", server.port)
        served = asyncio.run(transfer(endpoint, ORIGIN, None, 1))
    assert served.rrsets == {}
    assert served.error.startswith("a transfer message is malformed"), served.error


def test_transfer_signed_with_another_key_says_so():
    key = tsig_key("dnssync-test.", base64.b64encode(b"k" * 32).decode())
    with FaultyNameserver(ORIGIN, ZONE, transfer="ok", keyring={key.name: key}) as server:
        endpoint = Endpoint("127.0.0.1", server.port)
        good = asyncio.run(transfer(endpoint, ORIGIN, key, 1))
        assert good.error is None and len(good.rrsets) == 12  # NS and 11 A (not the SOA)
        server.transfer = "other-key"
        served = asyncio.run(transfer(endpoint, ORIGIN, key, 1))
    assert served.error == f"the reply is signed with another key ({OTHER_KEY.name}, not {key.name})"


@pytest.mark.parametrize("mode", ["malformed", "other-key"])
def test_a_failed_transfer_reads_the_same_in_verify_and_in_the_rfc2136_provider(mode):
    """One translation of a transfer's failure (query.axfr.failure_text): verify's
    listing and the RFC 2136 provider reading the zone to plan say the same words."""
    key = tsig_key("dnssync-test.", base64.b64encode(b"k" * 32).decode())
    with FaultyNameserver(ORIGIN, ZONE, transfer=mode, keyring={key.name: key}) as server:
        served = asyncio.run(transfer(Endpoint("127.0.0.1", server.port), ORIGIN, key, 1))
        provider = BindProvider("faulty", "127.0.0.1", port=server.port, key_name=key.name.to_text(),
                                key_secret=base64.b64encode(b"k" * 32).decode(),
                                key_algorithm="hmac-sha256", timeout=1)
        with pytest.raises(Rfc2136Error) as error:
            provider.transfer(ORIGIN)
    assert served.error
    assert str(error.value).endswith(f": {served.error}")
    assert error.value.transient is False  # the same message again would fail the same way


@pytest.mark.parametrize("mode", [None, "ok", "malformed", "other-key", "closed"])
def test_transfer_on_the_event_loop_ends_as_the_threaded_one(mode):
    """verify reads small zones' transfers on the event loop: the same records, or the
    same error in the same words, as the thread that reads large ones."""
    key = tsig_key("dnssync-test.", base64.b64encode(b"k" * 32).decode())
    with FaultyNameserver(ORIGIN, ZONE, transfer=None if mode == "closed" else mode,
                          keyring={key.name: key}, tcp=mode != "closed") as server:
        endpoint = Endpoint("127.0.0.1", server.port)
        threaded = asyncio.run(transfer(endpoint, ORIGIN, key, 1))
        looped = asyncio.run(transfer(endpoint, ORIGIN, key, 1, small=True))
    assert (looped.error, looped.rrsets) == (threaded.error, threaded.rrsets)
    assert (looped.error is None) == (mode == "ok"), looped.error


@pytest.mark.parametrize("mode, connections", [("ok", 1), ("one-per-connection", 5), ("one-then-silent", 5)])
def test_transfers_share_a_kept_connection_and_survive_its_close(mode, connections):
    """Five transfers in a row with one `Connections`: a server that takes several
    queries on a connection gets one connection; one that closes a connection at its
    second query, or ignores that query, costs that transfer nothing but the wait for a
    first byte (it is asked again on a new connection) and gets a new connection per
    transfer from then on."""
    with FaultyNameserver(ORIGIN, ZONE, transfer=mode) as server:
        endpoint = Endpoint("127.0.0.1", server.port, "ns1.faulty.test.")

        async def five() -> list:
            kept = axfr.Connections()
            try:
                return [await transfer(endpoint, ORIGIN, None, 0.5, small=True, connections=kept)
                        for _ in range(5)]
            finally:
                await kept.close()

        started = time.monotonic()
        served = asyncio.run(five())
        elapsed = time.monotonic() - started
    assert [s.error for s in served] == [None] * 5
    assert served[0].rrsets and all(s.rrsets == served[0].rrsets for s in served)
    assert (server.transfers, server.connections) == (5, connections)
    assert elapsed < 2  # a silent kept connection is given up after 0.5 s, once
