"""Many questions on one TCP connection (verify's SOA-over-TCP check for a fleet):
each question must end exactly as the engine's own one-connection-per-question TCP
would end it, faults included, and a dead or closing server must never hang it."""

from __future__ import annotations

import asyncio
import time

import dns.name
import pytest

from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.engine import Engine
from dnssync.query.tcpbatch import ask_tcp
from tests.faultyns import FaultyNameserver
from tests.test_verify_engine import ORIGIN, ZONE

#: names whose TCP outcome differs (the faults that act over TCP), asked side by side
LABELS = ["www", "servfail", "refused", "lame", "big", "bigbroken", "wrong", "badid", "cut",
          "badrdata", "nothere"]


def questions() -> list[Question]:
    return [Question(dns.name.from_text(f"{label}.{ORIGIN}"), 1, label) for label in LABELS] + [
        Question(dns.name.from_text(ORIGIN), 6, "soa")]


def batch(endpoint: Endpoint, asked: list[Question], timeout: float = 1.0
          ) -> tuple[dict[str, Answer], dict[str, int]]:
    got: dict[str, Answer] = {}
    stats = {"queries": 0, "tcp": 0}

    async def go() -> None:
        await asyncio.wait_for(ask_tcp(endpoint, asked, lambda a: got.__setitem__(a.question.tag, a),
                                       timeout, stats=stats), 30)

    asyncio.run(go())
    return got, stats


def one_by_one(endpoint: Endpoint, asked: list[Question]) -> dict[str, Answer]:
    async def go() -> dict[str, Answer]:
        async with Engine(timeout=1.0, resends=1) as engine:
            answers = await asyncio.gather(*(engine.ask(endpoint, q.name, q.rdtype, tcp=True,
                                                        tag=q.tag) for q in asked))
        return {a.question.tag: a for a in answers}

    return asyncio.run(go())


@pytest.fixture(scope="module")
def endpoint():
    with FaultyNameserver(ORIGIN, ZONE) as server:
        yield Endpoint("127.0.0.1", server.port, "ns1.faulty.test.")


def test_every_question_ends_as_the_engine_ends_it(endpoint):
    asked = questions()
    ours, stats = batch(endpoint, asked)
    theirs = one_by_one(endpoint, asked)
    assert sorted(ours) == sorted(theirs) == sorted(q.tag for q in asked)
    for tag in ours:
        mine, engine = ours[tag], theirs[tag]
        assert (tag, mine.error) == (tag, engine.error)
        assert mine.transport == "tcp"
        if engine.error is None:
            assert (mine.rcode, [rr.rdtype for rr in mine.reply.answer]) == (
                engine.rcode, [rr.rdtype for rr in engine.reply.answer])
    assert ours["www"].error is None and ours["soa"].error is None and ours["nothere"].nxdomain
    assert ours["servfail"].error == "servfail" and ours["badid"].error == "id-mismatch"
    # bigbroken closes the connection: the rest were asked again on new ones, not failed
    assert stats["queries"] == len(asked) and 2 <= stats["tcp"] < len(asked)


def test_one_connection_for_many_healthy_questions(endpoint):
    asked = [Question(dns.name.from_text(ORIGIN), 6, i) for i in range(300)]
    got, stats = batch(endpoint, asked)
    assert len(got) == 300 and all(a.error is None for a in got.values())
    assert stats == {"queries": 300, "tcp": 1}


def test_nothing_listening_fails_every_question_at_once():
    with FaultyNameserver(ORIGIN, ZONE, tcp=False) as server:
        got, stats = batch(Endpoint("127.0.0.1", server.port), questions())
    assert {a.error for a in got.values()} == {"unreachable"} and len(got) == len(questions())
    assert stats["tcp"] == 1


def test_a_silent_server_costs_one_timeout():
    with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
        started = time.monotonic()
        got, _ = batch(Endpoint("127.0.0.1", server.port), questions(), timeout=0.5)
        elapsed = time.monotonic() - started
    assert {a.error for a in got.values()} == {"timeout"} and len(got) == len(questions())
    assert elapsed < 2.0


def test_thousands_of_questions_do_not_stall_the_connection(endpoint):
    """Found at 2,000 zones on the lab: every query written at once filled both sides'
    buffers (the server blocked sending replies nobody read) and every zone got a
    false verify.tcp. A window keeps the connection moving."""
    asked = [Question(dns.name.from_text(ORIGIN), 6, i) for i in range(6000)]
    got, stats = batch(endpoint, asked, timeout=3.0)
    assert len(got) == 6000 and {a.error for a in got.values()} == {None}
    assert stats == {"queries": 6000, "tcp": 1}
