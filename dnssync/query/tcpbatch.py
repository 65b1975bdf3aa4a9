"""Many questions to one nameserver over one TCP connection (RFC 7766 pipelining):
verify's reachability check asks every zone's SOA over TCP, and with one connection
per zone a fleet of 200 zones on 3 providers opened 600 connections, a large share
of the client's and the servers' time. Here every query is written at once and the
replies are matched by message ID in whatever order they come, so the check costs
one connection per nameserver address, however many zones it serves.

Queries go out in a window (a new one for each reply), so neither side's buffers
fill however many zones there are. A server may close a connection before it has
answered everything (a limit on
queries per connection, or a question it chokes on): the rest are asked again on a
new one. A connection that brings no reply right after one that did fails its first
question (the one the server stopped at); a server that answers nothing fails them
all at once, with why, as `Engine.ask(..., tcp=True)` reports it. Every question
still gets its own `Answer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import struct
import time
from collections.abc import Callable, Sequence

from dnssync.query import wire
from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.answer import classify as classify  # the engine's one reading of rcodes
from dnssync.query.wire import Malformed

_LENGTH = struct.Struct("!H")
#: queries written ahead of the replies on one connection
WINDOW = 64


async def ask_tcp(endpoint: Endpoint, questions: Sequence[Question],
                  on_answer: Callable[[Answer], None], timeout: float, payload: int = 1232,
                  stats: dict[str, int] | None = None) -> None:
    """Ask every question (non-recursive) over TCP; `on_answer` once per question.
    `timeout` bounds connecting and each wait for the next reply; `stats` (the engine's
    counters) counts the questions and the connections."""
    pending: dict[int, tuple[Question, bytes]] = {}
    for question in questions:
        qid = random.getrandbits(16)
        while qid in pending:
            qid = random.getrandbits(16)
        qname = question.wire if question.wire is not None else question.name.to_wire().lower()
        pending[qid] = (question, qname)
    if len(pending) < len(questions):
        raise ValueError("at most 65,536 questions on one connection")
    if stats is not None:
        stats["queries"] += len(pending)
    started = time.monotonic()

    def answer(qid: int, error: str | None, detail: str, reply: wire.Reply | None) -> None:
        question, _ = pending.pop(qid)
        on_answer(Answer(question, endpoint, error, detail, reply, "tcp",
                         time.monotonic() - started, 1))

    alive = False  # whether the last connection brought any reply
    while pending:
        if stats is not None:
            stats["tcp"] += 1
        before = len(pending)
        kind, detail = await _connection(endpoint, pending, answer, timeout, payload)
        brought = len(pending) < before
        if kind is not None and not brought:
            # a server that answered on the last connection chokes on the first question
            # of this one (it answers in order): that question fails, the rest go on; a
            # server that answers nothing fails them all, at the cost of one connection
            for qid in list(pending)[:1] if alive else list(pending):
                answer(qid, kind, detail, None)
        alive = brought


async def _connection(endpoint: Endpoint, pending: dict[int, tuple[Question, bytes]],
                      answer: Callable[[int, str | None, str, wire.Reply | None], None],
                      timeout: float, payload: int) -> tuple[str | None, str]:
    """One connection: write every pending query, file replies until all are answered or
    the connection ends; returns why it ended early ((None, "") when it did not)."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(endpoint.address, endpoint.port), timeout)
        queries = (_LENGTH.pack(len(q)) + q for q in (
            wire.query_wire(qid, qname, question.rdtype, False, payload)
            for qid, (question, qname) in list(pending.items())))
        # a window, one more query per reply: written all at once, the queries and the
        # replies of 2,000 zones filled both sides' buffers and the connection stalled
        writer.write(b"".join(itertools.islice(queries, WINDOW)))
        await asyncio.wait_for(writer.drain(), timeout)
        while pending:
            (length,) = _LENGTH.unpack(await asyncio.wait_for(reader.readexactly(2), timeout))
            message = await asyncio.wait_for(reader.readexactly(length), timeout)
            _file(message, pending, answer)
            following = next(queries, None)
            if following is not None:
                writer.write(following)
        return None, ""
    except TimeoutError:
        return "timeout", f"no reply over TCP in {timeout:g} s"
    except ConnectionRefusedError:
        return "unreachable", "TCP connection refused"
    except (OSError, asyncio.IncompleteReadError) as e:
        return "network", f"TCP failed: {type(e).__name__}: {e}".rstrip(": ")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _file(message: bytes, pending: dict[int, tuple[Question, bytes]],
          answer: Callable[[int, str | None, str, wire.Reply | None], None]) -> None:
    """Match one reply to its question by ID (and question section) and judge it; a
    reply for nothing pending is ignored, as the engine ignores stray datagrams."""
    qid = int.from_bytes(message[:2], "big") if len(message) >= 2 else -1
    try:
        reply = wire.parse_reply(message)
    except Malformed as e:
        if qid in pending:
            answer(qid, "malformed", f"malformed reply over TCP: {e}", None)
        return
    if qid not in pending or pending[qid][1] != reply.qname \
            or pending[qid][0].rdtype != reply.qtype:
        # not that question's reply: it answers the question it names, under a wrong ID
        asked = next((q for q, (question, qname) in pending.items()
                      if qname == reply.qname and question.rdtype == reply.qtype), None)
        if asked is not None:
            answer(asked, "id-mismatch", "the TCP reply has the wrong message ID or question",
                   None)
        return
    kind, detail = classify(reply, False)
    if kind is None and reply.flags & wire.TC:
        kind, detail = "malformed", "the TCP reply has TC set"
    answer(qid, kind, detail, reply)
